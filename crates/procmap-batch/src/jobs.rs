//! Reading a jobs file: one job per line, streamed, never held whole.
//!
//! A line is `TASK ARG...` (or only `ARG...` with `--task`), split like shell
//! words. Blank lines and lines starting with `#` are skipped; a job's id is
//! its 1-based line number. A line that cannot be split becomes an
//! [`Input::Invalid`], so it is reported as that job's error and the run
//! goes on.

use procmap::Input;
use procmap::wire::{Job, MAX_JOB_BYTES};
use std::io::BufRead;

pub struct JobReader<R> {
    reader: R,
    task: Option<String>,
    line: u64,
    buf: Vec<u8>,
    /// Set by a read error: a reader that failed once may fail forever.
    failed: bool,
    /// The rest of an overlong line is still to be skipped.
    skipping: bool,
}

/// The most bytes of one line that are ever held in memory: a job line may
/// be up to [`MAX_JOB_BYTES`]; one byte more tells that it is longer.
const LINE_LIMIT: usize = MAX_JOB_BYTES + 1;

/// How much of an overlong line its error record quotes.
const EXCERPT_CHARS: usize = 60;

impl<R: BufRead> JobReader<R> {
    /// `task`: the task of every line (`--task`), or `None` if each line
    /// starts with its task's name.
    pub fn new(reader: R, task: Option<String>) -> Self {
        JobReader { reader, task, line: 0, buf: Vec::with_capacity(256), failed: false, skipping: false }
    }
}

/// How one line was read.
enum Line {
    End,
    /// The whole line is in the buffer (without its newline).
    Whole,
    /// The line is longer than [`MAX_JOB_BYTES`]: the buffer holds its
    /// first [`LINE_LIMIT`] bytes, and the rest is still to be skipped.
    TooLong,
}

/// Reads one line into `buf`, keeping at most [`LINE_LIMIT`] bytes of it,
/// so that a file without newlines (or `/dev/zero`) never fills memory. An
/// overlong line is reported as soon as it is known to be one, so that an
/// endless one still gets its record.
fn read_line(reader: &mut impl BufRead, buf: &mut Vec<u8>) -> std::io::Result<Line> {
    buf.clear();
    loop {
        let available = match reader.fill_buf() {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok(if buf.is_empty() { Line::End } else { Line::Whole });
        }
        let (end, found) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (i, true),
            None => (available.len(), false),
        };
        let room = LINE_LIMIT - buf.len();
        if end >= room {
            buf.extend_from_slice(&available[..room]);
            reader.consume(room);
            return Ok(Line::TooLong);
        }
        buf.extend_from_slice(&available[..end]);
        reader.consume(if found { end + 1 } else { end });
        if found {
            return Ok(Line::Whole);
        }
    }
}

impl<R: BufRead> JobReader<R> {
    /// Skips the rest of an overlong line, a buffer's worth at a time.
    fn skip_line(&mut self) -> std::io::Result<()> {
        while let Line::TooLong = read_line(&mut self.reader, &mut self.buf)? {}
        Ok(())
    }
}

impl<R: BufRead> Iterator for JobReader<R> {
    type Item = Input;

    fn next(&mut self) -> Option<Input> {
        loop {
            if self.failed {
                return None;
            }
            if std::mem::take(&mut self.skipping)
                && let Err(e) = self.skip_line()
            {
                self.failed = true;
                return Some(invalid(self.line, "", format!("cannot read the jobs file here: {e}")));
            }
            let read = read_line(&mut self.reader, &mut self.buf);
            if !matches!(read, Ok(Line::End)) {
                self.line += 1;
            }
            match read {
                Ok(Line::End) => return None,
                Ok(Line::Whole) => {}
                Ok(Line::TooLong) => {
                    self.skipping = true;
                    return Some(too_long(self.line, &self.buf, self.task.as_deref()));
                }
                Err(e) => {
                    // A read error ends the input; the job it hit says why.
                    self.failed = true;
                    return Some(invalid(self.line, "", format!("cannot read the jobs file here: {e}")));
                }
            }
            let mut bytes = self.buf.trim_ascii();
            if self.line == 1 {
                // A byte-order mark, as some Windows editors write.
                bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes).trim_ascii();
            }
            // Comments are skipped before decoding: a comment in Latin-1 is
            // still a comment.
            if bytes.is_empty() || bytes[0] == b'#' {
                continue;
            }
            let Ok(text) = std::str::from_utf8(bytes) else {
                return Some(invalid(self.line, "", "the line is not valid UTF-8".to_owned()));
            };
            return Some(parse_line(self.line, text, self.task.as_deref()));
        }
    }
}

fn too_long(line: u64, start: &[u8], task: Option<&str>) -> Input {
    let excerpt: String = String::from_utf8_lossy(&start[..start.len().min(4 * EXCERPT_CHARS)])
        .chars()
        .take(EXCERPT_CHARS)
        .collect();
    // The task, so that the record says which kind of job it was.
    let first_word = excerpt.split_whitespace().next().filter(|w| w.len() < excerpt.len());
    invalid(
        line,
        task.or(first_word).unwrap_or(""),
        format!("line {line} is longer than {} MiB; it starts with {excerpt:?}", MAX_JOB_BYTES >> 20),
    )
}

/// Parses one non-blank line.
pub fn parse_line(id: u64, text: &str, task: Option<&str>) -> Input {
    if let Some(words) = plain_words(text) {
        return job_of_words(id, words, task);
    }
    let words = match shell_words::split(text) {
        Ok(words) => words,
        Err(_) => {
            let task = if task.is_some() { task } else { text.split_whitespace().next() };
            return invalid(
                id,
                task.unwrap_or(""),
                format!("cannot parse the line: unbalanced quote in {text:?}"),
            );
        }
    };
    // Quoted lines are rare: one more copy of their words buys one place
    // that turns words into a job.
    job_of_words(id, words.iter().map(String::as_str), task)
}

/// The words of a line without quotes, backslashes or `#` (nearly every
/// line of a big jobs file), split where `shell_words::split` splits such
/// a line: at runs of spaces, tabs and newlines. `None` for any other line,
/// which `shell_words` then parses. A byte search and no copy, where
/// `shell_words` decodes every character and grows every word as it goes.
fn plain_words(text: &str) -> Option<impl Iterator<Item = &str> + Clone> {
    if text.bytes().any(|b| matches!(b, b'\'' | b'"' | b'\\' | b'#')) {
        return None;
    }
    Some(text.split([' ', '\t', '\n']).filter(|word| !word.is_empty()))
}

/// The job of a line split into `words`, each copied once into a string of
/// its own size.
fn job_of_words<'a>(id: u64, mut words: impl Iterator<Item = &'a str> + Clone, task: Option<&str>) -> Input {
    let task = match task {
        Some(task) => task,
        None => match words.next() {
            Some(task) => task,
            None => return invalid(id, "", "the line has no task name".to_owned()),
        },
    };
    let mut args = Vec::with_capacity(words.clone().count());
    args.extend(words.map(str::to_owned));
    Input::Job(Job::new(id, task.to_owned(), args))
}

fn invalid(id: u64, task: &str, error: String) -> Input {
    Input::Invalid { id, task: task.to_owned(), args: Vec::new(), error }
}

/// Counts the jobs in a file the way [`JobReader`] reads them, for the
/// progress bar's total, without holding any line in memory.
pub fn count_jobs(mut reader: impl BufRead) -> u64 {
    #[derive(PartialEq)]
    enum State {
        /// Only blanks so far on this line (or a byte-order mark on line 1).
        Blank,
        Job,
        Comment,
    }
    let mut n = 0;
    let mut state = State::Blank;
    let mut first_line = true;
    let mut bom = 0;
    loop {
        let bytes = match reader.fill_buf() {
            Ok([]) | Err(_) => break,
            Ok(bytes) => bytes,
        };
        for &b in bytes {
            if first_line && state == State::Blank && bom < 3 && b == b"\xef\xbb\xbf"[bom] {
                bom += 1;
                continue;
            }
            match b {
                b'\n' => {
                    if state == State::Job {
                        n += 1;
                    }
                    state = State::Blank;
                    first_line = false;
                }
                _ if state != State::Blank => {}
                b' ' | b'\t' | b'\r' | b'\x0c' => {}
                b'#' => state = State::Comment,
                _ => state = State::Job,
            }
        }
        let len = bytes.len();
        reader.consume(len);
    }
    if state == State::Job {
        n += 1;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str, task: Option<&str>) -> Vec<Input> {
        JobReader::new(text.as_bytes(), task.map(str::to_owned)).collect()
    }

    fn job(id: u64, task: &str, args: &[&str]) -> Input {
        Input::Job(Job::new(id, task, args.iter().map(|s| s.to_string()).collect()))
    }

    #[test]
    fn lines_are_split_like_shell_words_and_numbered() {
        let inputs = read("cube 3\n\n# comment\n  noop  \ncube 'a b' \"c\\\"d\"\n", None);
        assert_eq!(
            inputs,
            vec![job(1, "cube", &["3"]), job(4, "noop", &[]), job(5, "cube", &["a b", "c\"d"])]
        );
    }

    /// The parser as it was: `shell_words` for every line.
    fn parse_with_shell_words(id: u64, text: &str, task: Option<&str>) -> Option<Input> {
        let words = shell_words::split(text).ok()?;
        Some(match task {
            Some(task) => Input::Job(Job::new(id, task.to_owned(), words)),
            None => {
                let mut words = words.into_iter();
                match words.next() {
                    Some(task) => Input::Job(Job::new(id, task, words.collect())),
                    None => invalid(id, "", "the line has no task name".to_owned()),
                }
            }
        })
    }

    #[test]
    fn plain_lines_split_as_shell_words_splits_them() {
        // Every line of up to 4 characters from an alphabet with each kind of
        // separator and special character, and random longer ones.
        let alphabet: Vec<char> = " \t\n\r\x0bab7é'\"\\#".chars().collect();
        let mut lines = vec![String::new()];
        let mut last = lines.clone();
        for _ in 0..4 {
            last = last.iter().flat_map(|l| alphabet.iter().map(move |c| format!("{l}{c}"))).collect();
            lines.extend(last.iter().cloned());
        }
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..20_000 {
            let line: String = (0..state % 40)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    alphabet[(state % alphabet.len() as u64) as usize]
                })
                .collect();
            lines.push(line);
        }
        let mut plain = 0;
        for line in &lines {
            plain += usize::from(plain_words(line).is_some());
            for task in [None, Some("cube")] {
                let ours = parse_line(9, line, task);
                match parse_with_shell_words(9, line, task) {
                    Some(theirs) => assert_eq!(ours, theirs, "{line:?}"),
                    None => assert!(matches!(ours, Input::Invalid { .. }), "{line:?}"),
                }
            }
        }
        assert!(plain > 10_000, "the fast path is taken: {plain} of {}", lines.len());
    }

    #[test]
    fn with_a_task_every_word_is_an_argument() {
        assert_eq!(read("3\n4 5", Some("cube")), vec![job(1, "cube", &["3"]), job(2, "cube", &["4", "5"])]);
    }

    #[test]
    fn an_unbalanced_quote_is_that_line_s_error() {
        let inputs = read("cube 'oops\ncube 2", None);
        assert!(
            matches!(&inputs[0], Input::Invalid { id: 1, task, error, .. } if task == "cube" && error.contains("unbalanced quote"))
        );
        assert_eq!(inputs[1], job(2, "cube", &["2"]));
    }

    #[test]
    fn a_read_error_ends_the_input() {
        struct Broken;
        impl std::io::Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
                Err(std::io::Error::other("disk on fire"))
            }
        }
        let inputs: Vec<Input> = JobReader::new(std::io::BufReader::new(Broken), None).collect();
        assert_eq!(inputs.len(), 1);
        assert!(matches!(&inputs[0], Input::Invalid { error, .. } if error.contains("disk on fire")));
    }

    #[test]
    fn counting_matches_reading() {
        let text = "\u{feff}cube 1\n\n#x\ncube 2\n   \ncube 3\n \t# y\n";
        assert_eq!(count_jobs(text.as_bytes()), read(text, None).len() as u64);
        assert_eq!(count_jobs(text.as_bytes()), 3);
    }

    #[test]
    fn a_line_longer_than_the_limit_is_cut_short_and_skipped() {
        // A small buffer, so the line arrives in many pieces.
        let mut text = vec![b'x'; MAX_JOB_BYTES + 10];
        text.extend_from_slice(b"\ncube 2\n");
        let mut reader = JobReader::new(std::io::BufReader::with_capacity(1000, &text[..]), None);
        let first = reader.next().expect("a record for the long line");
        assert!(reader.buf.capacity() <= 2 * LINE_LIMIT, "held {} bytes", reader.buf.capacity());
        let Input::Invalid { id: 1, error, .. } = first else { panic!("{first:?}") };
        assert!(error.starts_with("line 1 is longer than 1 MiB; it starts with \"xxx"), "{error}");
        assert!(error.len() < 200, "the error quotes a bounded excerpt: {error}");
        assert_eq!(reader.next(), Some(job(2, "cube", &["2"])));
        assert_eq!(reader.next(), None);
    }

    #[test]
    fn a_line_of_exactly_the_limit_is_read_whole() {
        let mut text = b"cube ".to_vec();
        text.resize(MAX_JOB_BYTES, b'7');
        let inputs: Vec<Input> = JobReader::new(&text[..], None).collect();
        assert!(matches!(&inputs[..], [Input::Job(j)] if j.args[0].len() == MAX_JOB_BYTES - 5));
    }

    #[test]
    fn a_byte_order_mark_and_a_latin1_comment_are_not_jobs() {
        let text = b"\xef\xbb\xbfcube 1\n# caf\xe9\ncube 2\n";
        let inputs: Vec<Input> = JobReader::new(&text[..], None).collect();
        assert_eq!(inputs, vec![job(1, "cube", &["1"]), job(3, "cube", &["2"])]);
    }

    /// A reader interrupted by a signal before every read, as a pipe read
    /// can be: the line still arrives whole.
    struct Interrupting {
        data: std::io::Cursor<Vec<u8>>,
        interrupt: bool,
    }

    impl std::io::Read for Interrupting {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.interrupt = !self.interrupt;
            if self.interrupt {
                return Err(std::io::ErrorKind::Interrupted.into());
            }
            let len = buf.len().min(3);
            std::io::Read::read(&mut self.data, &mut buf[..len])
        }
    }

    #[test]
    fn an_interrupted_read_is_retried() {
        let mut text = b"cube 1\n".to_vec();
        text.extend(vec![b'z'; MAX_JOB_BYTES + 5]);
        text.extend_from_slice(b"\ncube 2\n");
        let reader = Interrupting { data: std::io::Cursor::new(text), interrupt: false };
        let inputs: Vec<Input> =
            JobReader::new(std::io::BufReader::with_capacity(64, reader), None).collect();
        assert_eq!(
            inputs.len(),
            3,
            "{:?}",
            inputs.iter().map(|i| format!("{i:?}").chars().take(80).collect::<String>()).collect::<Vec<_>>()
        );
        assert_eq!(inputs[0], job(1, "cube", &["1"]));
        assert!(matches!(&inputs[1], Input::Invalid { id: 2, .. }));
        assert_eq!(inputs[2], job(3, "cube", &["2"]));
    }

    #[test]
    fn an_overlong_line_s_excerpt_is_its_first_60_characters() {
        // Multi-byte characters: 60 characters, not 60 bytes.
        let mut text = "é".repeat(MAX_JOB_BYTES).into_bytes();
        text.push(b'\n');
        let inputs: Vec<Input> = JobReader::new(&text[..], None).collect();
        let Input::Invalid { error, task, .. } = &inputs[0] else { panic!() };
        let quoted = error.split_once("starts with ").unwrap().1;
        assert_eq!(quoted, format!("{:?}", "é".repeat(60)));
        assert_eq!(task, "", "no space, so no task name");
        // With --task, the record names that task.
        let inputs: Vec<Input> = JobReader::new(&text[..], Some("cube".into())).collect();
        assert!(matches!(&inputs[0], Input::Invalid { task, .. } if task == "cube"));
    }

    #[test]
    fn counting_skips_a_byte_order_mark_and_counts_a_last_line_without_newline() {
        assert_eq!(count_jobs(&b"\xef\xbb\xbf# c\ncube 1\ncube 2"[..]), 2);
        assert_eq!(count_jobs(&b"\xef\xbb\xbfcube 1\n"[..]), 1);
        assert_eq!(count_jobs(&b"  \n\t\n"[..]), 0);
        let many: String = (0..1000).map(|i| format!("cube {i}\n")).collect();
        assert_eq!(count_jobs(std::io::BufReader::with_capacity(7, many.as_bytes())), 1000);
    }
}
