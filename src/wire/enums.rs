//! `wire_enum!`: open newtype enums for protocol values. Unknown values are kept and shown in
//! hex; known ones have named constants and a display name.

/// Declares `pub struct Name(pub T)` with associated constants, `name()` and `Display`.
///
/// ```
/// smbscope::wire_enum! {
///     /// Example.
///     pub struct Colour(u16) {
///         RED = 1 => "red",
///         BLUE = 2 => "blue",
///     }
/// }
/// assert_eq!(Colour::RED.name(), Some("red"));
/// assert_eq!(Colour(7).to_string(), "0x0007");
/// ```
#[macro_export]
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        pub struct $name:ident($ty:ty) {
            $( $(#[$vmeta:meta])* $variant:ident = $value:expr => $text:expr ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub struct $name(pub $ty);

        #[allow(dead_code)]
        impl $name {
            $( $(#[$vmeta])* pub const $variant: $name = $name($value); )*

            /// The protocol name of this value, if it is a known one.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $( v if v == $value => Some($text), )*
                    _ => None,
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                match self.name() {
                    Some(n) => f.write_str(n),
                    None => write!(f, "{:#0width$x}", self.0, width = 2 + 2 * ::std::mem::size_of::<$ty>()),
                }
            }
        }

        impl ::std::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                write!(f, "{}({})", stringify!($name), self)
            }
        }
    };
}
