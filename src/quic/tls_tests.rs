//! Tests for the TLS handshake decoders. Vectors are CRYPTO stream bytes from the read-only
//! corpus (`shared/corpus`), extracted with tshark 4.0.17, which decrypts QUIC Initials itself
//! and Handshake packets with the listed key logs. Expected values are tshark's
//! (`-T fields -e tls.handshake.* -e tls.quic.parameter.*`) and, for SNI/ALPN, the Zeek
//! baselines quoted in `MANIFEST.md` rows 74–80.

use super::*;

pub(crate) fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("test vector hex"))
        .collect()
}

/// The single handshake message a vector holds, checked to fill it.
fn only_message(bytes: &[u8], typ: u8) -> &[u8] {
    let (msgs, used) = handshake_messages(bytes);
    assert_eq!(used, bytes.len());
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].0, typ);
    msgs[0].1
}

/// `zeek/quic_chromium-115.0.5790.110-api-cirrus-com.pcap` frame 1: Initial CRYPTO reassembled
/// from 9 out-of-order CRYPTO frames (tshark "Reassembled QUIC CRYPTO", 574 bytes).
pub(crate) const CH_CHROMIUM: &str = "0100023a0303fcb40b41daf6dc08e746b70e8a909ca115104e32c2832fd1b3f9706ce3bae01e0000061301130213030100020b002b0003020304000a00080006001d001700180000001600140000116170692e6369727275732d63692e636f6d446900050003026833003300260024001d002010c27c809e9fbd1402b7cd8128d31043f0800808ab0605ede2c4377a3c02f958002d00020101001b0003020002000d0014001204030804040105030805050108060601020100100005000302683300390068040480f0000006048060000020048001000001048000753071270480005244090240670f00070480600000080240648000475204000000017128045256434d050480600000d9317df10a00299305e34ec37e22030245c080ff73db0c000000011acaea7a000000010029010d00e800e2029a37519e419d0d9c909c4c38945a6fff59098997b175bc9ee2efe061f6ba57cc9a545882cb0c766099407b4a039418505326896081d5371e8cdb8752749d03b7afad027c04eb3246876eaa35a46cd54ebed02ac4994caed6b83594138ab5c55c082e35633acfd8ed35b5e8309b7aff54a0c08e76702960b822bf76fb1b13d733aee03182cc7c6aecf30dd082e220c55b652cb6525e635c3067e7b5af7974295758dc09971ea9f8eb0561a31690698bb5ef2c90a1d8784581346ac52a858f3f0af46e8eacec16e40e2c0df4d2d36e3cdf9720f162ae02465241b889340f5f46ec022a2e5a730021209b869632c5deec3c38fd602fe97f2bf56595cf4ef6b5f479a7e9ed2a98b81afd";

/// `zeek/quic_quicdoq.pcap` frame 1 (DoQ, UDP/853, `-d udp.port==853,quic`): Initial CRYPTO.
pub(crate) const CH_DOQ: &str = "010000d30303254c494ffe1b95c7348393691b744048f514ed7ec21066cdec545cd55e7037e6000006130113021303010000a400330047004500170041049f66e7f569e4488b5662d64647e79a5cfe6f1994a177ade438ac129c9e19eede4954882f8020a539703332c23445c090efca3fb5b9de4505946c4140076caff500100006000403646f71002b0003020304000d000a00080804040304010201000a000600040017001d0039002605048000ffff040480010000010480004e20030244d00e01030b010a0f080fb934775f247b8e002d00020101";

/// `zeek/quic_quicv2-echo-443.pcap` frame 1 (QUIC v2 0x6b3343cf): Initial CRYPTO.
pub(crate) const CH_QUICV2_ECHO: &str = "010001110303084e72fde16d8569dd81ab2c8c0de7266b3c0cd87464252fdefc03ba26af0a2a000006130113021303010000e20000000e000c0000096c6f63616c686f7374000500050100000000000a000a0008001d001700180019000b00020100000d001a0018080404030807080508060401050106010503060302010203ff0100010000100014001211717569632d6563686f2d6578616d706c6500120000002b0003020304003300260024001d0020e81fdd77a690ee77a296a7007a36ab22a5f39d0feb1c552b3139158c0c388d510039003f3a09ac30f16de193f39e180504800800000604800800000704800800000404800c00000802406409024064010480007530030245ac0b011a0c000e01040f00";

/// `zeek/quic_interop_quic-go_handshake.pcap` frame 5: Initial CRYPTO.
pub(crate) const CH_QUIC_GO: &str = "010001060303cae5c8a02d1ddf56f9d3ab9df567df5235497044285956427094b6bf3840aaf5000006130113021303010000d700000010000e00000b736572766572343a343433000500050100000000000a000a0008001d001700180019000b00020100000d001a0018080404030807080508060401050106010503060302010203ff010001000010000d000b0a68712d696e7465726f7000120000002b0003020304003300260024001d0020fd860967f796a039b60edb8867a70fe624730e8fa25e3cf311dbba2a8bccc053003900394cd20220c60504800800000604800800000704800800000404800c00000802406409024064010480007530030245ac0b011a0c000e01040f00";

/// `illustrated-quic/capture.pcap` frame 1 (the quic.xargs.org connection): Initial CRYPTO.
pub(crate) const CH_ILLUSTRATED: &str = "010000ea0303000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f000006130113021303010000bb0000001800160000136578616d706c652e756c666865696d2e6e6574000a00080006001d001700180010000b00090870696e672f312e30000d00140012040308040401050308050501080606010201003300260024001d0020358072d6365880d1aeea329adf9121383851ed21a28e3b75e965d0d2cd166254002d00020101002b00030203040039003103048000fff7040480a0000005048010000006048010000007048010000008010a09010a0a01030b01190f05635f636964";

/// `wireshark/quic-with-secrets.pcapng` frame 47 (Chrome to cloudflare-quic.com): Initial CRYPTO
/// reassembled from 9 CRYPTO frames (300 bytes).
pub(crate) const CH_CLOUDFLARE: &str = "01000128030348a7bc208b4c86b5cdfa3603fed142fa289feff252cd47c5275d5fa994fc52a2000006130113021303010000f9001000050003026833000000180016000013636c6f7564666c6172652d717569632e636f6d002d00020101001b0003020002000a00080006001d00170018003300260024001d0020cf1816e2b1bcbac697d8c7dcb0063ce2200816ad495b86ab70d5895973fa1e08002b0003020304003900650604806000000f00200480010000fcc15de54862727409f0438f088c0f18e73c7128045256434d040480f000000704806000000802406480ff73db0c00000001da0a3a3a0000000101048000753009024067050480600000800047520400000001030245c0446900050003026833000d00140012040308040401050308050501080606010201";

/// `suricata-verify/quic-ietf__input.pcap` frame 1 (msquic.net): Initial CRYPTO.
pub(crate) const CH_MSQUIC: &str = "0100017c0303a360ecca453904adf2df00fde3f204eea0471a6d6ee4ee481f384d5e585c8b9f0000061301130213030100014d00330047004500170041043bfa07f1747d13eacb846388b850c6967a5af9feebc1fbf94915472bc48754d91a3c0ed5f2df749c8827b2bdb8028720edc8519d58c5233292133856867b6e5b0000000f000d00000a6d73717569632e6e65740010000800060568332d3239002b00090803047f1c7f1b7f1a000d000a00080804040304010201000a000600040017001d0039005505048020000004048010000008024201010480007530030245a00902420106048001006307048000ffff0e01080b010a0f08f50587894e0cd26c46860480005d14c0000000ff02de1a0243e88000715801036ab200002d000201010029005b00260020213500005381dab31433c274d3e39869c4b1d30e01da4227ced670e742351c1cc72dbdca003130b09f47c5437490d261489fd244f65f69f6f83156d1d0d4c0ef8961728f75e03b07053c1318450318882499adb230f406";

/// `illustrated-quic/capture.pcap` frame 2, Initial packet CRYPTO: the ServerHello.
pub(crate) const SH_ILLUSTRATED: &str = "020000560303707172737475767778797a7b7c7d7e7f808182838485868788898a8b8c8d8e8f00130100002e00330024001d00209fd7ad6dcff4298dd3f96d5b1b2af910a0535b1488d7f8fabb349a982880b615002b00020304";

/// `illustrated-quic/capture.pcap` frames 2–3 (keys: `illustrated-quic/keylog.txt`), server
/// Handshake CRYPTO from offset 0: EncryptedExtensions, Certificate, CertificateVerify, Finished.
pub(crate) const HS_ILLUSTRATED: &str = "0800005600540010000b00090870696e672f312e30003900410008000102030405060701048001d4c003048000fff70404805000000504800800000604800800000704800800000801020901020a01030b01190f05735f6369640b00032e0000032a0003253082032130820209a0030201020208155a92adc2048f90300d06092a864886f70d01010b05003022310b300906035504061302555331133011060355040a130a4578616d706c65204341301e170d3138313030353031333831375a170d3139313030353031333831375a302b310b3009060355040613025553311c301a060355040313136578616d706c652e756c666865696d2e6e657430820122300d06092a864886f70d01010105000382010f003082010a0282010100c4803606bae7476b089404eca7b691043ff792bc19eefb7d74d7a80d001e7b4b3a4ae60fe8c071fc73e7024c0dbcf4bdd11d396bba70464a13e94af83df3e10959547bc955fb412da3765211e1f3dc776caa53376eca3aecbec3aab73b31d56cb6529c8098bcc9e02818e20bf7f8a03afd1704509ece79bd9f39f1ea69ec47972e830fb5ca95de95a1e60422d5eebe527954a1e7bf8a86f6466d0d9f16951a4cf7a04692595c1352f2549e5afb4ebfd77a37950144e4c026874c653e407d7d23074401f484ffd08f7a1fa05210d1f4f0d5ce79702932e2cabe701fdfad6b4bb71101f44bad666a11130fe2ee829e4d029dc91cdd6716dbb9061886edc1ba94210203010001a3523050300e0603551d0f0101ff0404030205a0301d0603551d250416301406082b0601050507030206082b06010505070301301f0603551d23041830168014894fde5bcc69e252cf3ea300dfb197b81de1c146300d06092a864886f70d01010b05000382010100591645a69a2e3779e4f6dd271aba1c0bfd6cd75599b5e7c36e533eff3659084324c9e7a504079d39e0d42987ffe3ebdd09c1cf1d914455870b571dd19bdf1d24f8bb9a11fe80fd592ba0398cde11e2651e618ce598fa96e5372eef3d248afde17463ebbfabb8e4d1ab502a54ec0064e92f7819660d3f27cf209e667fce5ae2e4ac99c7c93818f8b2510722dfed97f32e3e9349d4c66c9ea6396d744462a06b42c6d5ba688eac3a017bddfc8e2cfcad27cb69d3ccdca280414465d3ae348ce0f34ab2fb9c618371312b191041641c237f11a5d65c844f0404849938712b959ed685bc5c5dd645ed19909473402926dcb40e3469a15941e8e2cca84bb6084636a000000f000104080401000a99af32a9e406d725f9a9396de5af3756b7a8f6e4dad585abc3f87c6d1fc15f5f00aba8dca9d05cdb51d3c935433656d88b7432005ee7e04803b2475744d7555cf3de489cc216a485a728b21890e87aa9415d19e63a6a779b9cdbb128a804c428b827fa65dfcd952ace54461e8a234058988e7f264d7ab6a51a21c62979b7a679f4a08770856e926d371b2e89169aa190b803636bb10c0fb905983d2b500aad2683dfbe156eccf666de1a5ad45d7738d5e78bd17bc3e6d25f9ad4afba8f81de9f4d5572118e08551a4bb94b56a970e804c68267454b517fc8386c9bae3a77cccb7f290f6e58fba126f05333a11f8ab0892e6e7a89585382d36eef2529cf5b7b14000020068fcb606aa1c8aa354d7b6064a3328cf376bcd9f3200e68ace3de2ee9fcaccb";

/// `wireshark/quic-with-secrets.pcapng` frame 49, Initial CRYPTO: the ServerHello.
pub(crate) const SH_CLOUDFLARE: &str = "0200005603033ba23c7194588537330c702692d512110a095f7980b834ca75f310b75c1fe73c00130100002e00330024001d002044b1aa5d494dec8f7804bc7c057c9bb35d9e23113fe310b6e85a445a239abc1d002b00020304";

/// `wireshark/quic-with-secrets.pcapng` frames 50–51 (keys: the `.keylog` sidecar), server
/// Handshake CRYPTO: EncryptedExtensions, CompressedCertificate (brotli), CertificateVerify, Finished.
pub(crate) const HS_CLOUDFLARE: &str = "0800005e005c000000000010000500030268330039004b0008203f9e9f6869827401048002bf2003048000fff7040480a00000060480100000070480100000080241000901030a01030b01190f140130dfc5a047e6acd230b5c5e047ced9b0a6bbf01900065c00020009260006548128490020ff3f6efaef2521153156d31b2835a3bebaf15363a550ac3ecb3f65a26213c74c1785914049302b9ac1b09bd6d6d6c11bed465261d1dec0fb6ffcb6377b876f2837f682124141a04eddacae114206ee8897061c4fac93512fe7930426087353eb8789558280da5872de9bb5e15d7d6048ebfbebd2cfc6522401998c1118d06431455b11c5858c03d8dd931a5a998b650a6d7da34ca26a08e467c8d960860faedd6ca4951d374fc54f118bf9e2c42021b8da99080420621878bc810a3b138110440c0884a24851640568d7435b81c5687d2b43b144266d54a8e45209630bd61d0f5acfcaa45022e7a7aa247256aa6615ce615dc139c0462d9706b326edd56a5930ab688572b0a2f582561238faaf8fc47a6412a2aa1cb20756f7d6761667b46dcaba32f6e40dc7bdb3479a8d5c4b657ec8f14e7a7a3fc82d6c6ea9ddef928cb67f287dff5183a3635fcbaf94ae9bbe7a6be41ee1e4caf58b38b20f387228b8d164b18b07650fb643ac979c0d7ff96abdd67472d3f0cd293f6f789a0f9bea062e3459ec624ad952d6b1939edc5c60bc28f7d2b51ffaff3a17b1dbef2bf2208b268b5d2ca814107336fec1ac4c11863348a995b2471e5c7c55382bd65e06a60b7630c3f81f459184de1007005e7dc19ad60fa0318fa747e29a8e809eb4b91ba5011584cf17cd17ea98668da62d2a248455c984c1f5d22629dba0d2cc9e16b2ff6e197236452c7ef5758259956c303d4279710e2cc2a7c24104429a6e1a6a8c0902fcc0c7470b816d9d66aed4d1d191ad7985d06e1c843135009ac1b3cd0258673fb856c1aadb8a1a122c71842e54c64a4c0a57fb8ed68031cf6a9f3f6f02107078206d1840630a5fed222882e2702bc561296e42ede879dcf99b715f6891e059a9efee112d27c84ba72e58b4bc7e257dd031b095de2347080fd968faf730421489d22085e0ebbf155ff859b4fdeecbfb3f6f6f6ffaca9b3e8afa61b7f4f8952773d26e49629b8611fdd064f6eb89ca33a71c32de97bd312bf059d798558fb63dcfd827db2b3c67de693c096991e89c83d3be0db2d27d666bb25a934eeddaeac3f7ce7f19ffc0ffdd72f250f4d52cb436f832321592cf441135a222afe484a949be67cbd37d354fee55b8decddbf0bbfb8121a9efb3d27b28c10fec8ccecfd42f663c7fc4dfdfb56fb24be6c1eb671ef143c7febd507e38e5242c45ed685bdc2fcf7bb3b3776a3f461ed959f65956fd3be95cf73cd1e1b92e0643bdde6c9e81b2fa140a796dbba7eba9b3867323065e9eb8c6eb56c394a78793c31d26f5f3bea70c147f6d4edca877bb9d49d8c5076f2ae93fb8fc816095f9ddb81ab4e5b12317578e6f25b87dd2dec49a8e4c4301adecd9bf675bc3f43d03a45eeeb29edd311e9f54b9b695e7af5f537cfa9e9539c2ffa4b62b64b84febaf1c7d2f01aceca9b85073407ad6c57b55614af50ae749de6ca3034288bc001c790638620b4fc7320c1f565f53bb79b47bce1fa737d6c63160421be89aba6f26181bf11054608e262385b10473a2a19541929f46daaa5035a00f68d4baebbf0655914aabd630eec09799b472304ee39bb8f8050a8506b1ad0018413823088d80089142198190f930388f939b07dfb126bb7186b551ea6bb7a117fcf35ce7903621a1960383a66e1f1e31abaf76dcbe5dd9ef24a9874fa82f7be6de7feb7c56b6295f1932e06d16cfa0e392eabfc5b3ae09819bcb713d16635f11587d134fe694039756767af54ffda2305d4fd4162afb3de918c23ab1e54f7b5d7da031fe476004a100e1842f780ba29879df84c040c8fca0f9013a3fb5cd6d954b550a8546000211f220ad2fda08f5104e1bd4e9d2b1ee8f0c63f007df13e49c97baa4190d3612a00f4e31ae85b56723bfd0ff22c9618c789e2e779cd6fbbf9a7eb5ef5164764d4be91caef4f7abe7ccc2d2f10dbcbdb6c911151dc48e73e649471f4c5cfc28c5e73b4a0b6c5e5e32a3b068dc9ab90907ce9b6dbd666214912ecb0bcc184f57d6bb8c3a9d0ec177f51fceca70df3fd1d8a266eac4c9577ef36f97c89e4c9cb4afdb797ff8a3be0c9b9f010f3491f666db6e7e5a585a56977b7aec64f43bb5279489cb4ee386469dfa3ca2daf45db6897cb613e77947e0556dd1996f1e3b5fe441853428661fb820be76def513d354ee73a7e5a2d6609285a7a7f539bfbd4f3d0e6d1fa78a7fa177dc33b9b07bd30e49c3822cd3a3e9e88496e50d6b4b29f8ffd29439292fdf3f675c0619b819fe8dbbb332a6467371f50684000f00004a0403004630440220109515b014e3b92d520b71aceabc39a14bd1575ab47b47c597960fb400a38a2f022069ab4f5155cf83c49320e6e2dad07edcc41deced20f555fd9f9cdd4875a452f214000020ca75f0ff48bf4cc1dc28c71f0d7d35a94022cc286e919928cf850c87a05fa49d";

/// `wireshark/quic_follow_multistream.pcapng` frame 2 (QUIC draft-29), Initial CRYPTO: ServerHello.
pub(crate) const SH_YOUTUBE: &str = "020000560303420ae468c11e73c90fc413fc42f12eecfdbe9eafd3ff40463d76a78c8884802b00130100002e00330024001d0020db272736ed184100d8e4bb0c470d42ec5cf8669f11e6088d75f371ddeb96282c002b00020304";

/// `wireshark/quic_follow_multistream.pcapng` frames 4–6 (keys: the `.keylog` sidecar), server
/// Handshake CRYPTO: EncryptedExtensions (draft transport parameters 0xffa5), Certificate (2),
/// CertificateVerify, Finished.
pub(crate) const HS_YOUTUBE: &str = "080000980096000000000010000800060568332d3239ffa5008200082ee7fab709ec0e7001048003a980021066062d024590d60ecf9965026c24a6ef030245c004048003000005048002000006048002000007048002000008024064090240672004800100000c000f082ee7fab709ec0e708000475219ff00001d14ff00001d54303531513035305130343651303433e88d7624ead063d0033de4c20b000dfa00000df600099e3082099a30820882a003020102021100bff10d86136f613d0300000000cc17de300d06092a864886f70d01010b05003042310b3009060355040613025553311e301c060355040a1315476f6f676c65205472757374205365727669636573311330110603550403130a47545320434120314f31301e170d3231303531303031333431395a170d3231303830323031333431385a3066310b3009060355040613025553311330110603550408130a43616c69666f726e6961311630140603550407130d4d6f756e7461696e205669657731133011060355040a130a476f6f676c65204c4c433115301306035504030c0c2a2e676f6f676c652e636f6d3059301306072a8648ce3d020106082a8648ce3d03010703420004f71d8e195c26cff04992b93333b65a8a4bfb2bdbe1de2850cbbe16805a0498cb594d93b45f7820e15ec44d13241dfb56c951a12e6e2890f0757cc36b1ca42047a38207303082072c300e0603551d0f0101ff04040302078030130603551d25040c300a06082b06010505070301300c0603551d130101ff04023000301d0603551d0e0416041448ccf4b7c4e1b2d95bb91017f67cd0bf07898a9e301f0603551d2304183016801498d1f86e10ebcf9bec609f18901ba0eb7d09fd2b306806082b06010505070101045c305a302b06082b06010505073001861f687474703a2f2f6f6373702e706b692e676f6f672f677473316f31636f7265302b06082b06010505073002861f687474703a2f2f706b692e676f6f672f677372322f475453314f312e637274308204ec0603551d11048204e3308204df820c2a2e676f6f676c652e636f6d82162a2e617070656e67696e652e676f6f676c652e636f6d82092a2e62646e2e64657682122a2e636c6f75642e676f6f676c652e636f6d82182a2e63726f7764736f757263652e676f6f676c652e636f6d82182a2e64617461636f6d707574652e676f6f676c652e636f6d820b2a2e676f6f676c652e6361820b2a2e676f6f676c652e636c820e2a2e676f6f676c652e636f2e696e820e2a2e676f6f676c652e636f2e6a70820e2a2e676f6f676c652e636f2e756b820f2a2e676f6f676c652e636f6d2e6172820f2a2e676f6f676c652e636f6d2e6175820f2a2e676f6f676c652e636f6d2e6272820f2a2e676f6f676c652e636f6d2e636f820f2a2e676f6f676c652e636f6d2e6d78820f2a2e676f6f676c652e636f6d2e7472820f2a2e676f6f676c652e636f6d2e766e820b2a2e676f6f676c652e6465820b2a2e676f6f676c652e6573820b2a2e676f6f676c652e6672820b2a2e676f6f676c652e6875820b2a2e676f6f676c652e6974820b2a2e676f6f676c652e6e6c820b2a2e676f6f676c652e706c820b2a2e676f6f676c652e707482122a2e676f6f676c656164617069732e636f6d820f2a2e676f6f676c65617069732e636e82112a2e676f6f676c65766964656f2e636f6d820c2a2e677374617469632e636e82122a2e67737461746963636e617070732e636e820f676f6f676c65636e617070732e636e82112a2e676f6f676c65636e617070732e636e820c676b65636e617070732e636e820e2a2e676b65636e617070732e636e8212676f6f676c65646f776e6c6f6164732e636e82142a2e676f6f676c65646f776e6c6f6164732e636e820d2a2e677374617469632e636f6d82142a2e6d65747269632e677374617469632e636f6d820a2a2e677674312e636f6d82112a2e67637063646e2e677674312e636f6d820a2a2e677674322e636f6d820e2a2e6763702e677674322e636f6d82102a2e75726c2e676f6f676c652e636f6d82162a2e796f75747562652d6e6f636f6f6b69652e636f6d820b2a2e7974696d672e636f6d820b616e64726f69642e636f6d820d2a2e616e64726f69642e636f6d82132a2e666c6173682e616e64726f69642e636f6d8204672e636f82062a2e672e636f8206676f6f2e676c820a7777772e676f6f2e676c8214676f6f676c652d616e616c79746963732e636f6d82162a2e676f6f676c652d616e616c79746963732e636f6d820a676f6f676c652e636f6d8212676f6f676c65636f6d6d657263652e636f6d82142a2e676f6f676c65636f6d6d657263652e636f6d820867677068742e636e820a2a2e67677068742e636e820a75726368696e2e636f6d820c2a2e75726368696e2e636f6d8208796f7574752e6265820b796f75747562652e636f6d820d2a2e796f75747562652e636f6d8214796f7574756265656475636174696f6e2e636f6d82162a2e796f7574756265656475636174696f6e2e636f6d820f796f75747562656b6964732e636f6d82112a2e796f75747562656b6964732e636f6d820579742e626582072a2e79742e6265821a616e64726f69642e636c69656e74732e676f6f676c652e636f6d821b646576656c6f7065722e616e64726f69642e676f6f676c652e636e821c646576656c6f706572732e616e64726f69642e676f6f676c652e636e8218736f757263652e616e64726f69642e676f6f676c652e636e30210603551d20041a30183008060667810c010202300c060a2b06010401d67902050330330603551d1f042c302a3028a026a0248622687474703a2f2f63726c2e706b692e676f6f672f475453314f31636f72652e63726c30820103060a2b06010401d6790204020481f40481f100ef0076007d3ef2f88fff88556824c2c0ca9e5289792bc50e78097f2e6a9768997e22f0d70000017954201b7b00000403004730450220570d1ce88273562a163281efb1d16788a740900b48bfa24ed18fafe3d60494da022100f8dd942664bda4678cb6ca722136c0d7746e55623bcbdce7fd0b1e6d3276c2e50075005cdc4392fee6ab4544b15e9ad456e61037fbd5fa47dca17394b25ee6f6c70eca0000017954201411000004030046304402201a53b0145699390b377424ab22d099b74be47b45d2b1ffddefdde30494d22f760220262aa01b969d3696a2a25665d7a94ddc1a7b32b5be378d88dd6da3d717650fa9300d06092a864886f70d01010b0500038201010048945a77ae4653f5ecee41591a0bcc0e1a80ecdd38b195d97e10120b825ead11a95d6e17b4a9721bbfb01ec04266dedf5770e80d4a0441982d4d801a2c04f184293807d4a8cd5cf19f44eaecbed242e3ead84d11a1e59f3e4bc19334052f7f2bc2afbfd9af4e341822c06241fe8d6bcacf31d704292416dd42309a68f6919a40d47b8644f92367968d90b32b8602b66f93cb0c38b2eaa0e4b93783d2a5ffb78d3bf97973048263495c6004f5d1ff01230e0f9c5c40d875ca9e49a336b3452fa2967d70f5266c0c11af165298d0525e8c6ca70ff25b807cbed9ee787914e3efdbc43d559645a218e7ee89d8d7700a041ee395193dac23590094d8cadf70d84c4b000000044e3082044a30820332a003020102020d01e3b49aa18d8aa981256950b8300d06092a864886f70d01010b0500304c3120301e060355040b1317476c6f62616c5369676e20526f6f74204341202d20523231133011060355040a130a476c6f62616c5369676e311330110603550403130a476c6f62616c5369676e301e170d3137303631353030303034325a170d3231313231353030303034325a3042310b3009060355040613025553311e301c060355040a1315476f6f676c65205472757374205365727669636573311330110603550403130a47545320434120314f3130820122300d06092a864886f70d01010105000382010f003082010a0282010100d018cf45d48bcdd39ce440ef7eb4dd69211bc9cf3c8e4c75b90f3119843d9e3c29ef500d10936f0580809f2aa0bd124b02e13d9f581624fe309f0b747755931d4bf74de1928210f651ac0cc3b222940f346b981049e70b9d8339dd20c61c2defd1186165e7238320a82312ffd2247fd42fe7446a5b4dd75066b0af9e426305fbe01cc46361af9f6a33ff6297bd48d9d37c1467dc75dc2e69e8f86d7869d0b71005b8f131c23b24fd1a3374f823e0ec6b198a16c6e3cda4cd0bdbb3a4596038883bad1db9c68ca7531bfcbcd9a4abbcdd3c61d7931598ee81bd8fe264472040064ed7ac97e8b9c05912a1492523e4ed70342ca5b4637cf9a33d83d1cd6d24ac070203010001a38201333082012f300e0603551d0f0101ff040403020186301d0603551d250416301406082b0601050507030106082b0601050507030230120603551d130101ff040830060101ff020100301d0603551d0e0416041498d1f86e10ebcf9bec609f18901ba0eb7d09fd2b301f0603551d230418301680149be20757671c1ec06a06de59b49a2ddfdc19862e303506082b0601050507010104293027302506082b060105050730018619687474703a2f2f6f6373702e706b692e676f6f672f6773723230320603551d1f042b30293027a025a0238621687474703a2f2f63726c2e706b692e676f6f672f677372322f677372322e63726c303f0603551d20043830363034060667810c010202302a302806082b06010505070201161c68747470733a2f2f706b692e676f6f672f7265706f7369746f72792f300d06092a864886f70d01010b050003820101001a803e3679fbf32ea946377d5e541635aec74e0899febdd13469265266073d0aba49cb62f4f11a8efc114f68964c742bd367deb2a3aa058d844d4c20650fa596da0d16f86c3bdb6f0423886b3a6cc160bd689f718eee2d583407f0d554e98659fd7b5e0d2194f58cc9a8f8d8f2adcc0f1af39aa7a90427f9a3c9b0ff02786b61bac7352be856fa4fc31c0cedb63cb44beaedcce13cecdc0d8cd63e9bca42588bcc16211740bca2d666efdac4155bcd89aa9b0926e732d20d6e6720025b10b090099c0c1f9eadd83beaa1fc6ce8105c085219512a71bbac7ab5dd15ed2bc9082a2c8ab4a621ab63ffd7524950d089b7adf2affb50ae2fe1950df346ad9d9cf5ca00000f00004a040300463044022074af1ed0f831b4c95a7022ea46263403590a75744bdc827cb7c505c4869a4a5702207a8452cfdb4da97371ceb70fc579fa9f5c1a16515abcb0ecaa15b55f3382ee5014000020479d50c00b34c3551f1dbe21fa9ce66aa0ef3f0ae3da072e10541ed95b693291";

/// What tshark shows for one ClientHello.
struct ChCase {
    vector: &'static str,
    random: &'static str,
    sni: Option<&'static str>,
    alpn: &'static [&'static str],
    versions: &'static [u16],
    groups: &'static [u16],
    sigalgs: &'static [u16],
    extensions: &'static [u16],
    /// `quic.scid` of the packet: initial_source_connection_id must equal it.
    initial_scid: &'static str,
    max_idle_timeout: Option<u64>,
    active_connection_id_limit: Option<u64>,
    disable_active_migration: bool,
    other_params: &'static [u64],
}

const SIG_CHROME: &[u16] = &[
    0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601, 0x0201,
];
const SIG_GO: &[u16] = &[
    0x0804, 0x0403, 0x0807, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601, 0x0503, 0x0603, 0x0201, 0x0203,
];
const SIG_MSQUIC: &[u16] = &[0x0804, 0x0403, 0x0401, 0x0201];
const EXT_GO: &[u16] = &[0, 5, 10, 11, 13, 65281, 16, 18, 43, 51, 57];

const CH_CASES: &[ChCase] = &[
    ChCase {
        vector: CH_CHROMIUM,
        random: "fcb40b41daf6dc08e746b70e8a909ca115104e32c2832fd1b3f9706ce3bae01e",
        sni: Some("api.cirrus-ci.com"),
        alpn: &["h3"],
        versions: &[0x0304],
        groups: &[29],
        sigalgs: SIG_CHROME,
        extensions: &[43, 10, 0, 17513, 51, 45, 27, 13, 16, 57, 41],
        initial_scid: "",
        max_idle_timeout: Some(30000),
        active_connection_id_limit: None,
        disable_active_migration: false,
        other_params: &[
            4,
            6,
            32,
            12583,
            9,
            7,
            8,
            18258,
            12584,
            5,
            1815370599015393683,
            3,
            16741339,
        ],
    },
    ChCase {
        vector: CH_DOQ,
        random: "254c494ffe1b95c7348393691b744048f514ed7ec21066cdec545cd55e7037e6",
        sni: None,
        alpn: &["doq"],
        versions: &[0x0304],
        groups: &[23],
        sigalgs: SIG_MSQUIC,
        extensions: &[51, 16, 43, 13, 10, 57, 45],
        initial_scid: "0fb934775f247b8e",
        max_idle_timeout: Some(20000),
        active_connection_id_limit: Some(3),
        disable_active_migration: false,
        other_params: &[5, 4, 3, 11],
    },
    ChCase {
        vector: CH_QUICV2_ECHO,
        random: "084e72fde16d8569dd81ab2c8c0de7266b3c0cd87464252fdefc03ba26af0a2a",
        sni: Some("localhost"),
        alpn: &["quic-echo-example"],
        versions: &[0x0304],
        groups: &[29],
        sigalgs: SIG_GO,
        extensions: EXT_GO,
        initial_scid: "",
        max_idle_timeout: Some(30000),
        active_connection_id_limit: Some(4),
        disable_active_migration: true,
        other_params: &[58, 5, 6, 7, 4, 8, 9, 3, 11],
    },
    ChCase {
        vector: CH_QUIC_GO,
        random: "cae5c8a02d1ddf56f9d3ab9df567df5235497044285956427094b6bf3840aaf5",
        // The host_name bytes really are "server4:443" (tshark and the Zeek baseline agree).
        sni: Some("server4:443"),
        alpn: &["hq-interop"],
        versions: &[0x0304],
        groups: &[29],
        sigalgs: SIG_GO,
        extensions: EXT_GO,
        initial_scid: "",
        max_idle_timeout: Some(30000),
        active_connection_id_limit: Some(4),
        disable_active_migration: true,
        other_params: &[3282, 5, 6, 7, 4, 8, 9, 3, 11],
    },
    ChCase {
        vector: CH_ILLUSTRATED,
        random: "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
        sni: Some("example.ulfheim.net"),
        alpn: &["ping/1.0"],
        versions: &[0x0304],
        groups: &[29],
        sigalgs: SIG_CHROME,
        extensions: &[0, 10, 16, 13, 51, 45, 43, 57],
        initial_scid: "635f636964",
        max_idle_timeout: None,
        active_connection_id_limit: None,
        disable_active_migration: false,
        other_params: &[3, 4, 5, 6, 7, 8, 9, 10, 11],
    },
    ChCase {
        vector: CH_CLOUDFLARE,
        random: "48a7bc208b4c86b5cdfa3603fed142fa289feff252cd47c5275d5fa994fc52a2",
        sni: Some("cloudflare-quic.com"),
        alpn: &["h3"],
        versions: &[0x0304],
        groups: &[29],
        sigalgs: SIG_CHROME,
        extensions: &[16, 0, 45, 27, 10, 51, 43, 57, 17513, 13],
        initial_scid: "",
        max_idle_timeout: Some(30000),
        active_connection_id_limit: None,
        disable_active_migration: false,
        other_params: &[
            6,
            32,
            4377883552124138100,
            12584,
            4,
            7,
            8,
            16741339,
            9,
            5,
            18258,
            3,
        ],
    },
    ChCase {
        vector: CH_MSQUIC,
        random: "a360ecca453904adf2df00fde3f204eea0471a6d6ee4ee481f384d5e585c8b9f",
        sni: Some("msquic.net"),
        alpn: &["h3-29"],
        versions: &[0x0304, 0x7f1c, 0x7f1b, 0x7f1a],
        groups: &[23],
        sigalgs: SIG_MSQUIC,
        extensions: &[51, 0, 16, 43, 13, 10, 57, 45, 41],
        initial_scid: "f50587894e0cd26c",
        max_idle_timeout: Some(30000),
        active_connection_id_limit: Some(8),
        disable_active_migration: false,
        other_params: &[5, 4, 8, 3, 9, 6, 7, 11, 1670, 4278378010, 29016, 10930],
    },
];

#[test]
fn client_hellos_from_the_corpus() {
    for case in CH_CASES {
        let bytes = unhex(case.vector);
        let ch = ClientHello::parse(only_message(&bytes, msg_type::CLIENT_HELLO)).unwrap();
        let label = case.sni.unwrap_or("doq");
        assert_eq!(ch.random.to_vec(), unhex(case.random), "{label}");
        // RFC 8446 §4.1.2: random sits at stream offset 6.
        assert_eq!(&bytes[6..38], &ch.random[..], "{label}");
        assert!(ch.session_id.is_empty(), "{label}");
        assert_eq!(ch.cipher_suites, [0x1301, 0x1302, 0x1303], "{label}");
        assert_eq!(ch.sni.as_deref(), case.sni, "{label}");
        assert_eq!(ch.alpn, case.alpn, "{label}");
        assert_eq!(ch.supported_versions, case.versions, "{label}");
        assert_eq!(ch.key_share_groups, case.groups, "{label}");
        assert_eq!(ch.signature_algorithms, case.sigalgs, "{label}");
        assert_eq!(ch.extensions, case.extensions, "{label}");
        let tp = ch
            .transport_parameters
            .expect("QUIC ClientHello has transport parameters");
        assert_eq!(
            tp.initial_source_connection_id,
            Some(unhex(case.initial_scid)),
            "{label}"
        );
        assert_eq!(tp.original_destination_connection_id, None, "{label}");
        assert_eq!(tp.retry_source_connection_id, None, "{label}");
        assert_eq!(tp.max_idle_timeout, case.max_idle_timeout, "{label}");
        assert_eq!(
            tp.active_connection_id_limit, case.active_connection_id_limit,
            "{label}"
        );
        assert_eq!(
            tp.disable_active_migration, case.disable_active_migration,
            "{label}"
        );
        assert_eq!(tp.others, case.other_params, "{label}");
    }
}

#[test]
fn illustrated_quic_server_flight() {
    let sh = ServerHello::parse(only_message(&unhex(SH_ILLUSTRATED), msg_type::SERVER_HELLO));
    let sh = sh.unwrap();
    assert_eq!(
        sh.random.to_vec(),
        unhex("707172737475767778797a7b7c7d7e7f808182838485868788898a8b8c8d8e8f")
    );
    assert_eq!(sh.cipher_suite, 0x1301);
    assert_eq!(sh.selected_version, Some(0x0304));
    assert_eq!(sh.key_share_group, Some(29));
    assert_eq!(sh.extensions, [51, 43]);
    assert!(!sh.is_hello_retry_request);

    let hs = unhex(HS_ILLUSTRATED);
    let (msgs, used) = handshake_messages(&hs);
    assert_eq!(used, hs.len());
    let types: Vec<u8> = msgs.iter().map(|m| m.0).collect();
    assert_eq!(types, [8, 11, 15, 20]);

    let ee = EncryptedExtensions::parse(msgs[0].1).unwrap();
    assert_eq!(ee.alpn.as_deref(), Some("ping/1.0"));
    assert_eq!(ee.extensions, [16, 57]);
    let tp = ee.transport_parameters.unwrap();
    assert_eq!(
        tp.original_destination_connection_id,
        Some(unhex("0001020304050607"))
    );
    // The server's Initial SCID "s_cid".
    assert_eq!(tp.initial_source_connection_id, Some(b"s_cid".to_vec()));
    assert_eq!(tp.retry_source_connection_id, None);
    assert_eq!(tp.max_idle_timeout, Some(120000));
    assert_eq!(tp.others, [3, 4, 5, 6, 7, 8, 9, 10, 11]);

    let cert = CertificateMsg::parse(msgs[1].1).unwrap();
    assert!(cert.request_context.is_empty());
    assert_eq!(cert.certificates.len(), 1);
    assert_eq!(cert.certificates[0].len(), 805);
    assert_eq!(&cert.certificates[0][..4], &[0x30, 0x82, 0x03, 0x21]);
}

#[test]
fn cloudflare_server_flight_with_compressed_certificate() {
    let sh = ServerHello::parse(only_message(&unhex(SH_CLOUDFLARE), msg_type::SERVER_HELLO));
    let sh = sh.unwrap();
    assert_eq!(
        sh.random.to_vec(),
        unhex("3ba23c7194588537330c702692d512110a095f7980b834ca75f310b75c1fe73c")
    );
    assert_eq!(sh.cipher_suite, 0x1301);
    assert_eq!(
        cipher_suite_name(sh.cipher_suite),
        Some("TLS_AES_128_GCM_SHA256")
    );
    assert_eq!(sh.selected_version, Some(0x0304));
    assert_eq!(sh.key_share_group, Some(29));

    let hs = unhex(HS_CLOUDFLARE);
    let (msgs, used) = handshake_messages(&hs);
    assert_eq!(used, hs.len());
    let types: Vec<u8> = msgs.iter().map(|m| m.0).collect();
    assert_eq!(types, [8, 25, 15, 20]);

    let ee = EncryptedExtensions::parse(msgs[0].1).unwrap();
    assert_eq!(ee.alpn.as_deref(), Some("h3"));
    assert_eq!(ee.extensions, [0, 16, 57]);
    let tp = ee.transport_parameters.unwrap();
    assert_eq!(
        tp.original_destination_connection_id,
        Some(unhex("203f9e9f68698274"))
    );
    assert_eq!(
        tp.initial_source_connection_id,
        Some(unhex("0130dfc5a047e6acd230b5c5e047ced9b0a6bbf0"))
    );
    assert_eq!(tp.max_idle_timeout, Some(180000));
    assert_eq!(tp.others, [3, 4, 6, 7, 8, 9, 10, 11]);

    // tshark: "Algorithm: brotli (2), Uncompressed Length: 2342, Length: 1620".
    let cc = CompressedCertificate::parse(msgs[1].1).unwrap();
    assert_eq!(cc.algorithm, 2);
    assert_eq!(cert_compression_name(cc.algorithm), Some("brotli"));
    assert_eq!(cc.uncompressed_length, 2342);
    assert_eq!(cc.compressed.len(), 1620);
}

#[test]
fn youtube_draft29_server_flight() {
    let sh = ServerHello::parse(only_message(&unhex(SH_YOUTUBE), msg_type::SERVER_HELLO));
    let sh = sh.unwrap();
    assert_eq!(
        sh.random.to_vec(),
        unhex("420ae468c11e73c90fc413fc42f12eecfdbe9eafd3ff40463d76a78c8884802b")
    );
    assert_eq!(sh.cipher_suite, 0x1301);
    assert_eq!(sh.extensions, [51, 43]);

    let hs = unhex(HS_YOUTUBE);
    let (msgs, used) = handshake_messages(&hs);
    assert_eq!(used, hs.len());
    let types: Vec<u8> = msgs.iter().map(|m| m.0).collect();
    assert_eq!(types, [8, 11, 15, 20]);

    let ee = EncryptedExtensions::parse(msgs[0].1).unwrap();
    assert_eq!(ee.alpn.as_deref(), Some("h3-29"));
    assert_eq!(ee.extensions, [0, 16, 0xffa5]);
    let tp = ee.transport_parameters.unwrap();
    assert_eq!(
        tp.original_destination_connection_id,
        Some(unhex("2ee7fab709ec0e70"))
    );
    assert_eq!(
        tp.initial_source_connection_id,
        Some(unhex("2ee7fab709ec0e70"))
    );
    assert_eq!(tp.max_idle_timeout, Some(240000));
    assert!(tp.disable_active_migration);
    // stateless_reset_token (2) is parsed: 16 bytes.
    assert!(tp.stateless_reset_token.is_some());
    assert_eq!(
        tp.others,
        [3, 4, 5, 6, 7, 8, 9, 32, 18258, 2922121634163745744]
    );

    let cert = CertificateMsg::parse(msgs[1].1).unwrap();
    assert_eq!(cert.certificates.len(), 2);
}

#[test]
fn handshake_messages_keeps_a_cut_message() {
    let hs = unhex(HS_ILLUSTRATED);
    let (all, _) = handshake_messages(&hs);
    let ends: Vec<usize> = all
        .iter()
        .scan(0, |end, m| {
            *end += 4 + m.1.len();
            Some(*end)
        })
        .collect();
    for cut in 0..=hs.len() {
        let (msgs, used) = handshake_messages(&hs[..cut]);
        let complete = ends.iter().filter(|&&e| e <= cut).count();
        assert_eq!(msgs.len(), complete, "cut {cut}");
        assert_eq!(used, if complete == 0 { 0 } else { ends[complete - 1] });
    }
    assert_eq!(handshake_messages(&[]), (vec![], 0));
    // A zero-length body is a message (an empty EncryptedExtensions would still fail to parse).
    assert_eq!(
        handshake_messages(&[20, 0, 0, 0, 1]),
        (vec![(20, &[][..])], 4)
    );
}

/// The truncated prefixes of each message: an error, or a valid shorter parse where the grammar
/// allows one (a hello that stops after its compression methods; transport parameters that stop
/// at a parameter boundary).
#[test]
fn every_truncated_prefix_fails_cleanly() {
    for case in CH_CASES {
        let bytes = unhex(case.vector);
        let body = &bytes[4..];
        let full = ClientHello::parse(body).unwrap();
        // legacy_version + random + session_id + suites + compression.
        let bare = 2 + 32 + 1 + 2 + 2 * full.cipher_suites.len() + 2;
        for n in 0..body.len() {
            match ClientHello::parse(&body[..n]) {
                Ok(ch) => {
                    assert_eq!(n, bare, "{:?}", case.sni);
                    assert!(ch.extensions.is_empty() && ch.sni.is_none());
                }
                Err(e) => {
                    assert_eq!(e.layer, Layer::Tls);
                    assert!(e.offset <= n, "offset {} past prefix {n}", e.offset);
                }
            }
        }
    }
    for sh in [SH_ILLUSTRATED, SH_CLOUDFLARE, SH_YOUTUBE] {
        let bytes = unhex(sh);
        let body = &bytes[4..];
        for n in 0..body.len() {
            let r = ServerHello::parse(&body[..n]);
            assert!(r.is_err() || n == 2 + 32 + 1 + 2 + 1, "prefix {n}");
        }
    }
    for hs in [HS_ILLUSTRATED, HS_CLOUDFLARE, HS_YOUTUBE] {
        let bytes = unhex(hs);
        let (msgs, _) = handshake_messages(&bytes);
        for (typ, body) in msgs {
            for n in 0..body.len() {
                let prefix = &body[..n];
                match typ {
                    msg_type::ENCRYPTED_EXTENSIONS => {
                        assert!(EncryptedExtensions::parse(prefix).is_err())
                    }
                    msg_type::CERTIFICATE => assert!(CertificateMsg::parse(prefix).is_err()),
                    msg_type::COMPRESSED_CERTIFICATE => {
                        assert!(CompressedCertificate::parse(prefix).is_err())
                    }
                    _ => {}
                }
            }
        }
    }
}

#[test]
fn transport_parameter_prefixes_end_on_boundaries() {
    // The quic_transport_parameters body of the DoQ ClientHello: 7 parameters.
    let bytes = unhex(CH_DOQ);
    let body = &bytes[4..];
    let ext = extension_body(body, ext_type::QUIC_TRANSPORT_PARAMETERS);
    let mut oks = 0;
    for n in 0..=ext.len() {
        if TransportParameters::parse(&ext[..n]).is_ok() {
            oks += 1;
        }
    }
    // Empty, and after each of the 7 parameters.
    assert_eq!(oks, 8);
}

/// The body of the first extension of type `typ` in a ClientHello body.
fn extension_body(body: &[u8], typ: u16) -> &[u8] {
    let mut r = Reader::new(body, Layer::Tls);
    r.skip(34).unwrap();
    session_id(&mut r).unwrap();
    vec16(&mut r).unwrap();
    vec8(&mut r).unwrap();
    extensions(&mut r)
        .unwrap()
        .into_iter()
        .find(|(t, _)| *t == typ)
        .map(|(_, d)| d.rest())
        .unwrap()
}

#[test]
fn transport_parameters_all_fields() {
    let tp = TransportParameters::parse(&unhex(concat!(
        "0004a1b2c3d4",         // original_destination_connection_id
        "0f00",                 // initial_source_connection_id, empty
        "1003010203",           // retry_source_connection_id
        "0108c000000000000064", // max_idle_timeout as an 8-byte varint: 100
        "0e0102",               // active_connection_id_limit 2
        "0c00",                 // disable_active_migration
        "4020024000",           // id 0x20 (2-byte varint), 2-byte value
        "0300",                 // max_udp_payload_size, empty (not decoded)
    )))
    .unwrap();
    assert_eq!(
        tp.original_destination_connection_id,
        Some(vec![0xa1, 0xb2, 0xc3, 0xd4])
    );
    assert_eq!(tp.initial_source_connection_id, Some(vec![]));
    assert_eq!(tp.retry_source_connection_id, Some(vec![1, 2, 3]));
    assert_eq!(tp.max_idle_timeout, Some(100));
    assert_eq!(tp.active_connection_id_limit, Some(2));
    assert!(tp.disable_active_migration);
    assert_eq!(tp.others, [0x20, 3]);
    assert_eq!(
        TransportParameters::parse(&[]).unwrap(),
        TransportParameters::default()
    );

    // A 21-byte connection id (RFC 9000 §17.2 caps them at 20).
    let mut long = vec![0x0f, 21];
    long.extend([7u8; 21]);
    let e = TransportParameters::parse(&long).unwrap_err();
    assert_eq!((e.layer, e.offset), (Layer::Tls, 2));
    // disable_active_migration carries no value.
    assert!(TransportParameters::parse(&unhex("0c0100")).is_err());
    // max_idle_timeout whose varint is shorter than the value.
    assert!(TransportParameters::parse(&unhex("01020100")).is_err());
    // A length that runs past the end.
    assert!(TransportParameters::parse(&unhex("0005aabb")).is_err());
    // A varint length that does not fit: 0xff.. 8-byte.
    assert!(TransportParameters::parse(&unhex("00ffffffffffffffff")).is_err());
}

#[test]
fn hello_retry_request() {
    use sha2::{Digest, Sha256};
    assert_eq!(
        Sha256::digest(b"HelloRetryRequest")[..],
        HELLO_RETRY_REQUEST_RANDOM
    );
    // A HelloRetryRequest asking for secp256r1: key_share holds only the group.
    let mut body = vec![0x03, 0x03];
    body.extend(HELLO_RETRY_REQUEST_RANDOM);
    body.extend([0, 0x13, 0x02, 0]); // empty session id, suite, compression
    body.extend(unhex("000c002b00020304003300020017"));
    let sh = ServerHello::parse(&body).unwrap();
    assert!(sh.is_hello_retry_request);
    assert_eq!(sh.cipher_suite, 0x1302);
    assert_eq!(sh.selected_version, Some(0x0304));
    assert_eq!(sh.key_share_group, Some(0x17));
    // The same extension in a ServerHello needs a key_exchange after the group.
    body[2] ^= 1;
    assert!(ServerHello::parse(&body).is_err());
}

#[test]
fn errors_say_where() {
    let bytes = unhex(CH_ILLUSTRATED);
    let mut body = bytes[4..].to_vec();
    // Extensions start after version, random, session_id, suites (3), compression (1).
    let ext_start = 2 + 32 + 1 + 2 + 6 + 2;
    // First extension: server_name; its list length is at ext_start + 2 (block) + 4.
    assert_eq!(&body[ext_start + 2..ext_start + 4], &[0, 0]);
    body[ext_start + 6] ^= 0x40; // list length now exceeds the extension
    let e = ClientHello::parse(&body).unwrap_err();
    assert_eq!(e.layer, Layer::Tls);
    assert_eq!(e.offset, ext_start + 8);
    assert_eq!(e.reason, "truncated");

    // Trailing bytes after the extensions block.
    let mut body = bytes[4..].to_vec();
    body.push(0);
    assert_eq!(
        ClientHello::parse(&body).unwrap_err().reason,
        "trailing bytes after message"
    );
    // A session id over 32 bytes.
    let mut body = bytes[4..].to_vec();
    body[34] = 33;
    assert_eq!(
        ClientHello::parse(&body).unwrap_err().reason,
        "session_id longer than 32 bytes"
    );
}

#[test]
fn odd_but_legal_client_hellos() {
    // TLS 1.2-style: no extensions at all; a server_name with a non-host_name entry first.
    let mut body = vec![0x03, 0x03];
    body.extend([0x11; 32]);
    body.extend([0, 0, 2, 0x13, 0x01, 1, 0]);
    let ch = ClientHello::parse(&body).unwrap();
    assert_eq!(ch.cipher_suites, [0x1301]);
    assert!(ch.extensions.is_empty() && ch.transport_parameters.is_none());

    body.extend(unhex(concat!(
        "0017",         // extensions length 23
        "0000000f000d", // server_name, list 13
        "0100026869",   // name_type 1 "hi": skipped
        "000005",       // host_name len 5
        "612e62ff63",   // "a.b\xffc": invalid UTF-8 is replaced
        "0000",         // a duplicate server_name, empty: listed, not decoded
        "0000",
    )));
    let ch = ClientHello::parse(&body).unwrap();
    assert_eq!(ch.sni.as_deref(), Some("a.b\u{fffd}c"));
    assert_eq!(ch.extensions, [0, 0]);
}

#[test]
fn garbage_never_panics() {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut buf = Vec::new();
    for round in 0..20_000 {
        buf.clear();
        let len = (next() % 300) as usize;
        buf.extend((0..len).map(|_| next() as u8));
        if round % 2 == 0 && len > 4 {
            // Plausible header fields so the parsers get past the first checks.
            buf[0] = 3;
            buf[1] = 3;
        }
        exercise(&buf);
    }
    // Every single-byte corruption of every real message.
    let vectors = CH_CASES.iter().map(|c| c.vector).chain([
        SH_ILLUSTRATED,
        SH_CLOUDFLARE,
        SH_YOUTUBE,
        HS_ILLUSTRATED,
        HS_CLOUDFLARE,
        HS_YOUTUBE,
    ]);
    for v in vectors {
        let mut bytes = unhex(v);
        for i in 0..bytes.len() {
            let keep = bytes[i];
            bytes[i] = keep ^ (next() as u8 | 1);
            let (msgs, _) = handshake_messages(&bytes);
            for (_, body) in msgs {
                exercise(body);
            }
            exercise(&bytes[4.min(bytes.len())..]);
            bytes[i] = keep;
        }
    }
}

fn exercise(b: &[u8]) {
    let _ = handshake_messages(b);
    let _ = ClientHello::parse(b);
    let _ = ServerHello::parse(b);
    let _ = EncryptedExtensions::parse(b);
    let _ = CertificateMsg::parse(b);
    let _ = CompressedCertificate::parse(b);
    let _ = TransportParameters::parse(b);
}

#[test]
fn names() {
    assert_eq!(cipher_suite_name(0x1301), Some("TLS_AES_128_GCM_SHA256"));
    assert_eq!(cipher_suite_name(0x1302), Some("TLS_AES_256_GCM_SHA384"));
    assert_eq!(
        cipher_suite_name(0x1303),
        Some("TLS_CHACHA20_POLY1305_SHA256")
    );
    assert_eq!(
        cipher_suite_name(0xc02b),
        Some("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256")
    );
    assert_eq!(cipher_suite_name(0xbaba), None);
    assert_eq!(alert_description(49), "access_denied");
    assert_eq!(alert_description(40), "handshake_failure");
    assert_eq!(alert_description(42), "bad_certificate");
    assert_eq!(alert_description(46), "certificate_unknown");
    assert_eq!(alert_description(48), "unknown_ca");
    assert_eq!(alert_description(109), "missing_extension");
    assert_eq!(alert_description(120), "no_application_protocol");
    assert_eq!(alert_description(0), "close_notify");
    assert_eq!(alert_description(200), "unknown");
    assert_eq!(alert_from_quic_error(0x0131), Some(49));
    assert_eq!(alert_from_quic_error(0x0178), Some(120));
    assert_eq!(alert_from_quic_error(0x0a), None);
    assert_eq!(alert_from_quic_error(0x0200), None);
    assert!(is_grease(0x0a0a) && is_grease(0xbaba) && is_grease(0xfafa));
    assert!(!is_grease(0x1301) && !is_grease(0x0a1a) && !is_grease(0x3a3a ^ 0x0100));
    assert_eq!(msg_type::name(msg_type::CERTIFICATE), Some("certificate"));
    assert_eq!(msg_type::name(3), None);
}

#[test]
fn repeated_extensions_decode_the_first_only() {
    let mut body = vec![0x03, 0x03];
    body.extend([0x22; 32]);
    body.extend([0, 0, 2, 0x13, 0x01, 1, 0]);
    // ALPN "a", then 8,000 copies of ALPN "b", then v1 and draft transport parameters.
    let again = unhex("0010000400020162");
    let mut exts = unhex("0010000400020161");
    for _ in 0..8_000 {
        exts.extend(&again);
    }
    exts.extend(unhex("003900030e0102"));
    exts.extend(unhex("ffa500030e0105"));
    body.extend(u16::try_from(exts.len()).unwrap().to_be_bytes());
    body.extend(&exts);
    let ch = ClientHello::parse(&body).unwrap();
    assert_eq!(ch.alpn, ["a"]);
    assert_eq!(ch.extensions.len(), 8_003);
    let tp = ch.transport_parameters.unwrap();
    assert_eq!(tp.active_connection_id_limit, Some(2));
}
