//! Reads the replies the take and finish scripts pack with `cmsgpack.pack` (MessagePack).
//!
//! A taken job as RESP is about fifteen elements (its id and every field and value of its hash),
//! and redis-rs parses RESP element by element: that parse was about half of the worker's CPU
//! per job. Packed, a whole batch is one bulk string, read here with plain slice arithmetic.
//! Only what `cmsgpack` writes for those replies is accepted: arrays, strings and integers.

use std::sync::Arc;

use super::error::{QueueError, QueueResult};
use super::job::Job;

/// One entry of a take: a job under our lock, or an id whose hash was gone (already cleaned up
/// by the script).
#[derive(Debug)]
#[expect(
    clippy::large_enum_variant,
    reason = "nearly every entry is a job: boxing it would cost an allocation per job for the rare orphan"
)]
pub(crate) enum Taken {
    /// A job now in `active` under this worker's lock.
    Job(Job),
    /// An id that was waiting without a hash; the script removed it from `active`.
    Orphan(String),
}

/// A cursor over one packed reply.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

fn malformed(what: &str) -> QueueError {
    QueueError::Malformed(format!("packed script reply: {what}"))
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes, at: 0 }
    }

    fn take(&mut self, count: usize) -> QueueResult<&'a [u8]> {
        let end = self
            .at
            .checked_add(count)
            .filter(|end| *end <= self.bytes.len())
            .ok_or_else(|| malformed("truncated"))?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    fn byte(&mut self) -> QueueResult<u8> {
        Ok(self.take(1)?[0])
    }

    fn big_endian(&mut self, width: usize) -> QueueResult<u64> {
        Ok(self
            .take(width)?
            .iter()
            .fold(0u64, |value, byte| (value << 8) | u64::from(*byte)))
    }

    /// The length of the array that starts here.
    fn array(&mut self) -> QueueResult<usize> {
        match self.byte()? {
            marker @ 0x90..=0x9f => Ok(usize::from(marker & 0x0f)),
            0xdc => Ok(self.big_endian(2)? as usize),
            0xdd => Ok(self.big_endian(4)? as usize),
            // `cmsgpack` writes an empty Lua table as an empty array, but accept an empty map.
            0x80 => Ok(0),
            marker => Err(malformed(&format!(
                "expected an array, found 0x{marker:02x}"
            ))),
        }
    }

    /// The bytes of the string (or binary) that starts here.
    fn bytes(&mut self) -> QueueResult<&'a [u8]> {
        let length = match self.byte()? {
            marker @ 0xa0..=0xbf => usize::from(marker & 0x1f),
            0xd9 | 0xc4 => self.big_endian(1)? as usize,
            0xda | 0xc5 => self.big_endian(2)? as usize,
            0xdb | 0xc6 => self.big_endian(4)? as usize,
            marker => {
                return Err(malformed(&format!(
                    "expected a string, found 0x{marker:02x}"
                )));
            }
        };
        self.take(length)
    }

    fn text(&mut self) -> QueueResult<String> {
        Ok(lossy(self.bytes()?))
    }

    /// The integer that starts here.
    fn int(&mut self) -> QueueResult<i64> {
        let marker = self.byte()?;
        Ok(match marker {
            0x00..=0x7f => i64::from(marker),
            0xe0..=0xff => i64::from(marker as i8),
            0xcc => self.big_endian(1)? as i64,
            0xcd => self.big_endian(2)? as i64,
            0xce => self.big_endian(4)? as i64,
            0xcf => {
                i64::try_from(self.big_endian(8)?).map_err(|_| malformed("integer overflow"))?
            }
            0xd0 => i64::from(self.big_endian(1)? as u8 as i8),
            0xd1 => i64::from(self.big_endian(2)? as u16 as i16),
            0xd2 => i64::from(self.big_endian(4)? as u32 as i32),
            0xd3 => self.big_endian(8)? as i64,
            marker => {
                return Err(malformed(&format!(
                    "expected an integer, found 0x{marker:02x}"
                )));
            }
        })
    }

    /// `{id, {field, value, ...}}` entries, as `activate` in `lib.lua` returns them.
    fn taken(&mut self, queue: &Arc<str>) -> QueueResult<Vec<Taken>> {
        let count = self.array()?;
        let mut taken = Vec::with_capacity(count);
        for _ in 0..count {
            if self.array()? != 2 {
                return Err(malformed("a taken job is not {id, fields}"));
            }
            let id = self.text()?;
            let length = self.array()?;
            if length == 0 {
                taken.push(Taken::Orphan(id));
                continue;
            }
            if length % 2 != 0 {
                return Err(malformed("a job hash with an odd number of elements"));
            }
            let mut fields = Vec::with_capacity(length / 2);
            for _ in 0..length / 2 {
                fields.push((self.bytes()?, self.bytes()?));
            }
            taken.push(Taken::Job(Job::from_fields(queue.clone(), id, fields)));
        }
        Ok(taken)
    }

    fn ints(&mut self) -> QueueResult<Vec<i64>> {
        let count = self.array()?;
        (0..count).map(|_| self.int()).collect()
    }

    fn texts(&mut self) -> QueueResult<Vec<String>> {
        let count = self.array()?;
        (0..count).map(|_| self.text()).collect()
    }

    fn end(&self) -> QueueResult<()> {
        if self.at == self.bytes.len() {
            Ok(())
        } else {
            Err(malformed("trailing bytes"))
        }
    }
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The reply of `take.lua`: the taken jobs of queue `queue`.
pub(crate) fn take_reply(bytes: &[u8], queue: &Arc<str>) -> QueueResult<Vec<Taken>> {
    let mut reader = Reader::new(bytes);
    let taken = reader.taken(queue)?;
    reader.end()?;
    Ok(taken)
}

/// The reply of `finish.lua`: per-job statuses, the taken jobs, per-job problems.
pub(crate) fn finish_reply(
    bytes: &[u8],
    queue: &Arc<str>,
) -> QueueResult<(Vec<i64>, Vec<Taken>, Vec<String>)> {
    let mut reader = Reader::new(bytes);
    if reader.array()? != 3 {
        return Err(malformed(
            "a finish reply is not {statuses, taken, problems}",
        ));
    }
    let statuses = reader.ints()?;
    let taken = reader.taken(queue)?;
    let problems = reader.texts()?;
    reader.end()?;
    if statuses.len() != problems.len() {
        return Err(malformed("statuses and problems differ in length"));
    }
    Ok((statuses, taken, problems))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `cmsgpack.pack({{0, -3}, {{"17", {"name", "x", "data", "{}"}}, {"9", {}}}, {"", "no"}})`
    /// returns on Redis 7.
    const FINISH: &[u8] =
        b"\x93\x92\x00\xfd\x92\x92\xa217\x94\xa4name\xa1x\xa4data\xa2{}\x92\xa19\x90\x92\xa0\xa2no";

    #[test]
    fn a_finish_reply_gives_statuses_jobs_orphans_and_problems() {
        let queue: Arc<str> = Arc::from("q");
        let (statuses, taken, problems) = finish_reply(FINISH, &queue).unwrap();
        assert_eq!(statuses, vec![0, -3]);
        assert_eq!(problems, vec!["".to_owned(), "no".to_owned()]);
        match &taken[..] {
            [Taken::Job(job), Taken::Orphan(orphan)] => {
                assert_eq!((job.id.as_str(), job.name.as_str()), ("17", "x"));
                assert_eq!(job.data, "{}");
                assert_eq!(orphan, "9");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn long_strings_and_wide_integers_are_read() {
        let long = "x".repeat(70_000);
        let mut bytes = vec![0x92, 0xdb];
        bytes.extend_from_slice(&(long.len() as u32).to_be_bytes());
        bytes.extend_from_slice(long.as_bytes());
        bytes.extend_from_slice(&[0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x9c]);
        let mut reader = Reader::new(&bytes);
        assert_eq!(reader.array().unwrap(), 2);
        assert_eq!(reader.bytes().unwrap().len(), 70_000);
        assert_eq!(reader.int().unwrap(), -100);
        reader.end().unwrap();
    }

    #[test]
    fn truncated_or_foreign_replies_are_errors_not_panics() {
        let queue: Arc<str> = Arc::from("q");
        for cut in 0..FINISH.len() {
            assert!(
                finish_reply(&FINISH[..cut], &queue).is_err(),
                "cut at {cut}"
            );
        }
        assert!(take_reply(b"\xc0", &queue).is_err());
        assert!(take_reply(b"\x91\x92\xa11\x91\xa1a", &queue).is_err());
        assert!(take_reply(b"\x90\x00", &queue).is_err());
    }
}
