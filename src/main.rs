//! The `smbscope` binary: all logic lives in the library (`smbscope::cli`).

use std::process::ExitCode;

fn main() -> ExitCode {
    smbscope::cli::run()
}
