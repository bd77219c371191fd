//! Reading a jobs file: one job per line, streamed, never held whole.
//!
//! A line is `TASK ARG...` (or only `ARG...` with `--task`), split like shell
//! words. Blank lines and lines starting with `#` are skipped; a job's id is
//! its 1-based line number. A line that cannot be split becomes an
//! [`Input::Invalid`], so it is reported as that job's error and the run
//! goes on.

use procmap::Input;
use procmap::wire::Job;
use std::io::BufRead;

pub struct JobReader<R> {
    reader: R,
    task: Option<String>,
    line: u64,
    buf: Vec<u8>,
    /// Set by a read error: a reader that failed once may fail forever.
    failed: bool,
}

impl<R: BufRead> JobReader<R> {
    /// `task`: the task of every line (`--task`), or `None` if each line
    /// starts with its task's name.
    pub fn new(reader: R, task: Option<String>) -> Self {
        JobReader { reader, task, line: 0, buf: Vec::with_capacity(256), failed: false }
    }
}

impl<R: BufRead> Iterator for JobReader<R> {
    type Item = Input;

    fn next(&mut self) -> Option<Input> {
        loop {
            if self.failed {
                return None;
            }
            self.buf.clear();
            match self.reader.read_until(b'\n', &mut self.buf) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(e) => {
                    // A read error ends the input; the job it hit says why.
                    self.failed = true;
                    self.line += 1;
                    return Some(invalid(self.line, "", format!("cannot read the jobs file here: {e}")));
                }
            }
            self.line += 1;
            let text = match std::str::from_utf8(&self.buf) {
                Ok(text) => text.trim(),
                Err(_) => return Some(invalid(self.line, "", "the line is not valid UTF-8".to_owned())),
            };
            if text.is_empty() || text.starts_with('#') {
                continue;
            }
            return Some(parse_line(self.line, text, self.task.as_deref()));
        }
    }
}

/// Parses one non-blank line.
pub fn parse_line(id: u64, text: &str, task: Option<&str>) -> Input {
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
    match task {
        Some(task) => Input::Job(Job { id, task: task.to_owned(), args: words }),
        None => {
            let mut words = words.into_iter();
            match words.next() {
                Some(task) => Input::Job(Job { id, task, args: words.collect() }),
                None => invalid(id, "", "the line has no task name".to_owned()),
            }
        }
    }
}

fn invalid(id: u64, task: &str, error: String) -> Input {
    Input::Invalid { id, task: task.to_owned(), args: Vec::new(), error }
}

/// Counts the jobs in a file the way [`JobReader`] reads them, for the
/// progress bar's total.
pub fn count_jobs(reader: impl BufRead) -> u64 {
    let mut n = 0;
    for line in reader.split(b'\n') {
        let Ok(line) = line else { break };
        let t = line.trim_ascii();
        if !t.is_empty() && t[0] != b'#' {
            n += 1;
        }
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
        Input::Job(Job { id, task: task.into(), args: args.iter().map(|s| s.to_string()).collect() })
    }

    #[test]
    fn lines_are_split_like_shell_words_and_numbered() {
        let inputs = read("cube 3\n\n# comment\n  noop  \ncube 'a b' \"c\\\"d\"\n", None);
        assert_eq!(
            inputs,
            vec![job(1, "cube", &["3"]), job(4, "noop", &[]), job(5, "cube", &["a b", "c\"d"])]
        );
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
        let text = "cube 1\n\n#x\ncube 2\n   \ncube 3";
        assert_eq!(count_jobs(text.as_bytes()), read(text, None).len() as u64);
    }
}
