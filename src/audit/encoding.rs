//! The canonical record encoding (`audit/FORMAT.md` §2), written from borrowed parts.
//!
//! One writer serves both the owned [`super::record::Record`] and the verifier, which
//! encodes straight from the column bytes a database row hands it (no owned copy). The stored forms it accepts are exactly those the writer stores: the
//! fields list as comma-joined names, and the parties as their encoded `list<party>`.

use super::merkle::Hash;

/// Format version byte that starts every encoded record.
pub const FORMAT_VERSION: u8 = 1;

/// Where encoded bytes go.
pub trait Sink {
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// The record's fields list, as a list or as stored (names joined by commas).
#[derive(Clone, Copy, Debug)]
pub enum Fields<'a> {
    List(&'a [String]),
    Joined(&'a [u8]),
}

/// Everything the encoding covers, borrowed. Strings are their UTF-8 bytes: the writer
/// only ever stores valid UTF-8, and bytes that are not hash to a leaf that differs.
#[derive(Clone, Copy, Debug)]
pub struct Parts<'a> {
    pub log: &'a [u8],
    pub recorded_at: &'a [u8],
    pub request_id: &'a [u8],
    pub client_id: Option<&'a [u8]>,
    pub role: Option<&'a [u8]>,
    pub on_behalf_of: Option<&'a [u8]>,
    pub purpose: Option<&'a [u8]>,
    pub action: &'a [u8],
    pub resource_id: Option<&'a [u8]>,
    pub fields: Fields<'a>,
    pub outcome: &'a [u8],
    pub status: u16,
    pub error_code: Option<&'a [u8]>,
    pub evidence: Option<&'a Hash>,
    /// The encoded `list<party>` (count, then each party id and its previous leaf hash).
    pub parties: &'a [u8],
}

impl Parts<'_> {
    /// Writes the canonical encoding to `out`.
    pub fn write(&self, out: &mut impl Sink) {
        out.put(&[FORMAT_VERSION]);
        put_str(out, self.log);
        put_str(out, self.recorded_at);
        put_str(out, self.request_id);
        put_opt_str(out, self.client_id);
        put_opt_str(out, self.role);
        put_opt_str(out, self.on_behalf_of);
        put_opt_str(out, self.purpose);
        put_str(out, self.action);
        put_opt_str(out, self.resource_id);
        match self.fields {
            Fields::List(list) => {
                put_len(out, list.len());
                for field in list {
                    put_str(out, field.as_bytes());
                }
            }
            Fields::Joined([]) => put_len(out, 0),
            Fields::Joined(joined) => {
                put_len(out, joined.split(|b| *b == b',').count());
                for field in joined.split(|b| *b == b',') {
                    put_str(out, field);
                }
            }
        }
        put_str(out, self.outcome);
        out.put(&self.status.to_be_bytes());
        put_opt_str(out, self.error_code);
        put_opt_hash(out, self.evidence);
        out.put(self.parties);
    }

    /// SHA-256(0x00 || encoding).
    pub fn leaf_hash(&self) -> Hash {
        self.leaf_hash_with(&mut Vec::with_capacity(512))
    }

    /// [`Parts::leaf_hash`], encoding into `buffer` (cleared first): one buffer reused
    /// across records, and one hash update per record rather than one per field.
    pub fn leaf_hash_with(&self, buffer: &mut Vec<u8>) -> Hash {
        buffer.clear();
        self.write(buffer);
        super::merkle::leaf_hash(buffer)
    }
}

pub fn put_len(out: &mut impl Sink, len: usize) {
    // Lengths come from in-memory strings and lists far below 4 GiB.
    out.put(&u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes());
}

pub fn put_str(out: &mut impl Sink, value: &[u8]) {
    put_len(out, value.len());
    out.put(value);
}

pub fn put_opt_str(out: &mut impl Sink, value: Option<&[u8]>) {
    match value {
        None => out.put(&[0]),
        Some(v) => {
            out.put(&[1]);
            put_str(out, v);
        }
    }
}

pub fn put_opt_hash(out: &mut impl Sink, value: Option<&Hash>) {
    match value {
        None => out.put(&[0]),
        Some(h) => {
            out.put(&[1]);
            out.put(h);
        }
    }
}

/// One party of an encoded `list<party>`, borrowed: its id and previous leaf hash.
pub type PartyRef<'a> = (&'a [u8], Option<&'a Hash>);

/// The parties of an encoded `list<party>`, borrowed. Refuses anything that is not
/// exactly one canonical list (FORMAT.md §2.2).
pub fn parties_of(bytes: &[u8]) -> Result<Vec<PartyRef<'_>>, &'static str> {
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    let mut rest = bytes;
    let count = take_len(&mut rest)?;
    let mut out = Vec::with_capacity(count.min(64));
    for _ in 0..count {
        let len = take_len(&mut rest)?;
        let party = take(&mut rest, len)?;
        let prev = match take(&mut rest, 1)? {
            [0] => None,
            [1] => Some(<&Hash>::try_from(take(&mut rest, 32)?).map_err(|_| "short hash")?),
            _ => return Err("bad presence byte"),
        };
        out.push((party, prev));
    }
    if rest.is_empty() {
        Ok(out)
    } else {
        Err("trailing bytes after parties")
    }
}

fn take<'a>(rest: &mut &'a [u8], n: usize) -> Result<&'a [u8], &'static str> {
    if rest.len() < n {
        return Err("truncated parties");
    }
    let (head, tail) = rest.split_at(n);
    *rest = tail;
    Ok(head)
}

fn take_len(rest: &mut &[u8]) -> Result<usize, &'static str> {
    let bytes: [u8; 4] = take(rest, 4)?.try_into().map_err(|_| "truncated length")?;
    Ok(u32::from_be_bytes(bytes) as usize)
}
