//! Summing up: refusals per daemon and address, counted, with the newest occurrence kept.

use super::*;

/// Refusals so far, keyed by daemon and address.
#[derive(Default)]
pub(super) struct Tally {
    pub(super) entries: FxHashMap<Box<[u8]>, Newest>,
    /// Scratch space for the key, reused so a repeat refusal allocates nothing.
    pub(super) key: Vec<u8>,
}

/// What we keep per daemon and address: the count and the newest occurrence.
#[derive(Default)]
pub(super) struct Newest {
    pub(super) count: u64,
    pub(super) seq: u64,
    pub(super) line: u32,
    pub(super) time: Vec<u8>,
    pub(super) host: Vec<u8>,
    pub(super) user: Option<Vec<u8>>,
    pub(super) text: Vec<u8>,
}

impl Tally {
    pub(super) fn record(&mut self, hit: &Line<'_>, seq: u64, line: u32, text: &[u8]) {
        self.key.clear();
        // A syslog tag has no space, so the space keeps ("ab", "1") apart from ("a", "b1").
        self.key.extend_from_slice(hit.daemon);
        self.key.push(b' ');
        self.key.extend_from_slice(hit.client.addr);
        let (entry, fresh) = match self.entries.get_mut(self.key.as_slice()) {
            Some(entry) => (entry, false),
            None => {
                let key = self.key.clone().into_boxed_slice();
                (self.entries.entry(key).or_default(), true)
            }
        };
        entry.count = entry.count.saturating_add(hit.repeats);
        if fresh || seq > entry.seq {
            entry.seq = seq;
            entry.line = line;
            replace(&mut entry.time, hit.time);
            replace(&mut entry.host, hit.client.host);
            replace(&mut entry.text, text);
            entry.user = hit.client.user.map(<[u8]>::to_vec);
        }
    }

    /// The refusals, most recent first; `files` are those the ranks in `seq` index.
    pub(super) fn into_refusals(self, files: &[LogFile]) -> Vec<Refused> {
        let mut out: Vec<Refused> = self
            .entries
            .into_iter()
            .map(|(key, e)| to_refusal(&key, e, files))
            .collect();
        out.sort_by_key(|r| std::cmp::Reverse(r.last_seq));
        out
    }
}

pub(super) fn replace(dst: &mut Vec<u8>, src: &[u8]) {
    dst.clear();
    dst.extend_from_slice(src);
}

pub(super) fn to_refusal(key: &[u8], e: Newest, files: &[LogFile]) -> Refused {
    let space = memchr::memchr(b' ', key).unwrap_or(key.len());
    let (daemon, addr) = (&key[..space], key.get(space + 1..).unwrap_or_default());
    let rank = usize::try_from(e.seq >> SEQ_OFFSET_BITS).unwrap_or(usize::MAX);
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    Refused {
        addr: text(addr),
        ipv4: mapped_ipv4(addr),
        name: (e.host != addr && !is_pseudo(&e.host)).then(|| text(&e.host)),
        user: e.user.as_deref().map(text),
        daemon: text(daemon),
        count: e.count,
        last: (!e.time.is_empty()).then(|| text(&e.time)),
        last_seq: e.seq,
        file: files
            .get(rank)
            .map(|f| f.system.clone())
            .unwrap_or_default(),
        line: e.line,
        text: e.text,
    }
}

/// `a.b.c.d` from `::ffff:a.b.c.d` (any case), as libwrap prints v4-mapped peers.
pub(super) fn mapped_ipv4(addr: &[u8]) -> Option<String> {
    let (prefix, v4) = addr.split_at_checked(7)?;
    if !prefix.eq_ignore_ascii_case(b"::ffff:") {
        return None;
    }
    let v4: std::net::Ipv4Addr = std::str::from_utf8(v4).ok()?.parse().ok()?;
    Some(v4.to_string())
}

/// libwrap's placeholders for a host it knows nothing (or nothing trustworthy) about.
pub(super) fn is_pseudo(host: &[u8]) -> bool {
    host == b"unknown" || host == b"paranoid"
}
