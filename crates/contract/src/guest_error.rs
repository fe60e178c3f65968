//! A guest's `call-error`: the component flavour returns it as a WIT record, the Extism
//! flavour sets it as JSON through Extism's error channel.

use serde::Deserialize;

use crate::{MAX_MESSAGE, cut_message};

/// The kind of a guest's `call-error` (see `wit/udf.wit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GuestErrorKind {
    /// The arguments are not acceptable.
    InvalidArgument,
    /// The function, or this use of it, is not implemented.
    Unsupported,
    /// The guest ran out of something it manages.
    ResourceExhausted,
    /// A bug in the guest.
    Internal,
}

/// A `call-error` as the guest reported it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuestError {
    /// The guest's classification.
    pub kind: GuestErrorKind,
    /// The guest's message.
    pub message: String,
    /// Whether the same call may succeed if tried again.
    pub retryable: bool,
}

impl GuestError {
    /// Reads the Extism flavour's JSON error. Text that is not such an object becomes an
    /// `Internal`, not retryable error whose message is the text (as the contract says).
    /// Messages are cut to 4 KiB.
    pub fn from_json(text: &str) -> GuestError {
        let mut error = serde_json::from_str::<GuestError>(text).unwrap_or_else(|_| GuestError {
            kind: GuestErrorKind::Internal,
            message: text.to_owned(),
            retryable: false,
        });
        error.message = shorten(std::mem::take(&mut error.message));
        error
    }

    /// A `call-error` from the component flavour's record, its message cut to 4 KiB like
    /// the Extism flavour's.
    pub fn new(kind: GuestErrorKind, message: String, retryable: bool) -> GuestError {
        GuestError { kind, message: shorten(message), retryable }
    }
}

/// A guest's message kept to [`MAX_MESSAGE`] bytes, with `...` where it was cut.
fn shorten(message: String) -> String {
    if message.len() > MAX_MESSAGE { format!("{}...", cut_message(&message)) } else { message }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_errors_parse_and_anything_else_is_internal() {
        let e = GuestError::from_json(r#"{"kind":"resource-exhausted","message":"busy","retryable":true}"#);
        assert_eq!((e.kind, e.message.as_str(), e.retryable), (GuestErrorKind::ResourceExhausted, "busy", true));
        let e = GuestError::from_json("segfault, probably");
        assert_eq!((e.kind, e.message.as_str(), e.retryable), (GuestErrorKind::Internal, "segfault, probably", false));
        let e = GuestError::from_json(r#"{"kind":"nope","message":"x","retryable":false}"#);
        assert_eq!(e.kind, GuestErrorKind::Internal);
        assert_eq!(GuestError::from_json(&"é".repeat(5000)).message.len(), 4096 + 3);
        let long = GuestError::new(GuestErrorKind::Internal, "x".repeat(1 << 20), false);
        assert_eq!(long.message.len(), 4096 + 3);
    }
}
