//! The payload a plugin UDF travels as in a plan, byte by byte (the layout is in the API docs
//! of `PluginCodec`), read without trusting it. Std only: the fuzz target `plan_payload`
//! (`fuzz/`) compiles this file on its own.

/// What a payload names; the bytes, if any, borrowed from it.
pub(super) struct Payload<'a> {
    pub(super) kind: Kind,
    pub(super) sha256: [u8; 32],
    pub(super) plugin: &'a str,
    pub(super) version: &'a str,
    pub(super) function: &'a str,
    pub(super) bytes: Option<&'a [u8]>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Scalar = 0,
    Aggregate = 1,
    /// The sender could not encode the UDF; the bytes are its message.
    Refused = 2,
}

impl Kind {
    pub(super) fn describe(self) -> &'static str {
        match self {
            Kind::Scalar => "scalar function",
            Kind::Aggregate => "aggregate",
            Kind::Refused => "refusal",
        }
    }
}

pub(super) const MAGIC: [u8; 4] = *b"PRTU";
const FORMAT: u8 = 1;
const WITH_BYTES: u8 = 1;
/// Magic, format, kind, flags, a reserved byte, the hash.
pub(super) const HEAD: usize = 4 + 4 + 32;

impl Payload<'_> {
    /// Appends the payload's bytes to `out`.
    pub(super) fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&[FORMAT, self.kind as u8, if self.bytes.is_some() { WITH_BYTES } else { 0 }, 0]);
        out.extend_from_slice(&self.sha256);
        for text in [self.plugin, self.version, self.function] {
            out.extend_from_slice(&(text.len() as u16).to_le_bytes());
            out.extend_from_slice(text.as_bytes());
        }
        if let Some(bytes) = self.bytes {
            out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
            out.extend_from_slice(bytes);
        }
    }

    /// Reads a payload, trusting nothing: every length is checked against what is left, the
    /// texts must be UTF-8, and nothing may follow the end.
    pub(super) fn read(buf: &[u8]) -> Result<Payload<'_>, String> {
        let mut rest = buf;
        let head = take(&mut rest, HEAD).ok_or("shorter than its head")?;
        if head[..4] != MAGIC {
            return Err("not a plugrt payload".into());
        }
        if head[4] != FORMAT {
            return Err(format!("payload format {} (this build reads {FORMAT})", head[4]));
        }
        let kind = match head[5] {
            0 => Kind::Scalar,
            1 => Kind::Aggregate,
            2 => Kind::Refused,
            k => return Err(format!("unknown function kind {k}")),
        };
        let flags = head[6];
        if flags & !WITH_BYTES != 0 || head[7] != 0 {
            return Err(format!("unknown flags {flags:#04x}/{:#04x}", head[7]));
        }
        let sha256: [u8; 32] = head[8..].try_into().expect("32 bytes");
        let mut texts = [""; 3];
        for (text, what) in texts.iter_mut().zip(["plugin name", "version", "function name"]) {
            let len = take(&mut rest, 2).map(|b| u16::from_le_bytes([b[0], b[1]]) as usize);
            let bytes = len.and_then(|len| take(&mut rest, len)).ok_or_else(|| format!("its {what} is cut short"))?;
            *text = std::str::from_utf8(bytes).map_err(|_| format!("its {what} is not UTF-8"))?;
        }
        let bytes = if flags & WITH_BYTES != 0 {
            let len = take(&mut rest, 4).map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")) as usize);
            Some(len.and_then(|len| take(&mut rest, len)).ok_or("its plugin bytes are cut short")?)
        } else {
            None
        };
        if !rest.is_empty() {
            return Err(format!("{} bytes follow its end", rest.len()));
        }
        let [plugin, version, function] = texts;
        Ok(Payload { kind, sha256, plugin, version, function, bytes })
    }
}

/// The first `n` bytes of `rest`, which then starts after them; `None` if it is shorter.
fn take<'a>(rest: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if rest.len() < n {
        return None;
    }
    let (head, tail) = rest.split_at(n);
    *rest = tail;
    Some(head)
}
