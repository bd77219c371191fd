//! The journal's record encoder.

use procmap::{JobRecord, Status};
use serde_json::value::RawValue;

/// Appends `record` as one JSON line. Written by hand rather than through
/// serde because the journal thread is on the hot path of a million-job run
/// (serde_json's generic serializer cost about a third of the supervisor's
/// time); a test checks that both produce the same JSON. Numbers go through
/// [`push_int`] and [`push_ms`], not `write!`, whose formatting machinery
/// cost as much as the rest of the encoding.
pub fn encode_record(out: &mut Vec<u8>, r: &JobRecord, occurrence: u32) {
    encode_fields(out, &Fields::of(r, occurrence));
}

/// A record's fields, borrowed: what [`encode_fields`] writes. The Python
/// pool's records arrive from its workers as text, and building a
/// [`JobRecord`] for each (its strings copied, its value's JSON parsed
/// again) cost more than writing it; this view lets both callers share the
/// one encoder. `A` is how an argument is held: `String` in a record,
/// `&str` in a view over a worker's answer.
#[derive(Debug, Clone)]
pub struct Fields<'a, A = String> {
    pub line: u64,
    /// Written only when not 0 (see [`crate::occurrence`]).
    pub occurrence: u32,
    pub task: &'a str,
    pub args: &'a [A],
    pub status: Status,
    /// The value's JSON text, written as it is: the caller vouches that it
    /// is valid JSON.
    pub value: Option<&'a str>,
    pub error: Option<&'a str>,
    pub signal: Option<&'a str>,
    pub exit_code: Option<i32>,
    pub stdout: Option<&'a str>,
    pub stderr: Option<&'a str>,
    pub attempts: u32,
    pub worker: Option<u32>,
    pub ms: Option<Millis>,
    pub start: Option<Millis>,
    pub cpu_ms: Option<Millis>,
}

/// A time in milliseconds as a record holds it: a float, or whole
/// nanoseconds, which print as the same text without a float's formatting
/// (see [`push_nanos_as_ms`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Millis {
    Float(f64),
    Nanos(u64),
}

impl<'a> Fields<'a, String> {
    /// The fields of `r`.
    pub fn of(r: &'a JobRecord, occurrence: u32) -> Self {
        Fields {
            line: r.line,
            occurrence,
            task: &r.task,
            args: &r.args,
            status: r.status,
            value: r.value.as_deref().map(RawValue::get),
            error: r.error.as_deref(),
            signal: r.signal.as_deref(),
            exit_code: r.exit_code,
            stdout: r.stdout.as_deref(),
            stderr: r.stderr.as_deref(),
            attempts: r.attempts,
            worker: r.worker,
            ms: r.ms.map(Millis::Float),
            start: r.start.map(Millis::Float),
            cpu_ms: r.cpu_ms.map(Millis::Float),
        }
    }
}

/// Appends a record's fields as one JSON line, in [`JobRecord`]'s field
/// order and with its serde rules (absent options left out).
pub fn encode_fields<A: AsRef<str>>(out: &mut Vec<u8>, r: &Fields<'_, A>) {
    out.extend_from_slice(b"{\"line\":");
    push_int(out, r.line);
    if r.occurrence > 0 {
        out.extend_from_slice(b",\"occurrence\":");
        push_int(out, r.occurrence);
    }
    out.extend_from_slice(b",\"task\":");
    json_str(out, r.task);
    out.extend_from_slice(b",\"args\":[");
    for (i, arg) in r.args.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        json_str(out, arg.as_ref());
    }
    out.extend_from_slice(b"],\"status\":\"");
    out.extend_from_slice(r.status.as_str().as_bytes());
    out.push(b'"');
    if let Some(value) = r.value {
        out.extend_from_slice(b",\"value\":");
        out.extend_from_slice(value.as_bytes());
    }
    for (key, text) in [(&b",\"error\":"[..], r.error), (b",\"signal\":", r.signal)] {
        if let Some(text) = text {
            out.extend_from_slice(key);
            json_str(out, text);
        }
    }
    if let Some(code) = r.exit_code {
        out.extend_from_slice(b",\"exit_code\":");
        push_int(out, code);
    }
    for (key, text) in [(&b",\"stdout\":"[..], r.stdout), (b",\"stderr\":", r.stderr)] {
        if let Some(text) = text {
            out.extend_from_slice(key);
            json_str(out, text);
        }
    }
    out.extend_from_slice(b",\"attempts\":");
    push_int(out, r.attempts);
    if let Some(worker) = r.worker {
        out.extend_from_slice(b",\"worker\":");
        push_int(out, worker);
    }
    for (key, ms) in [(&b",\"ms\":"[..], r.ms), (b",\"start\":", r.start), (b",\"cpu_ms\":", r.cpu_ms)] {
        match ms {
            Some(Millis::Float(ms)) if ms.is_finite() => {
                out.extend_from_slice(key);
                push_ms(out, ms);
            }
            Some(Millis::Nanos(nanos)) => {
                out.extend_from_slice(key);
                push_nanos_as_ms(out, nanos);
            }
            _ => {}
        }
    }
    out.extend_from_slice(b"}\n");
}

/// Appends an integer in decimal, as `Display` writes it.
fn push_int(out: &mut Vec<u8>, n: impl itoa::Integer) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// Appends a finite `f64` exactly as `Display` writes it: the shortest
/// decimal that reads back as the same number, never in exponent form (so
/// valid JSON), `-` only for a negative number or -0.
///
/// The digits come from `zmij` (serde_json's float printer), laid out here
/// without the exponent it uses for large and small numbers. zmij and std
/// both print the shortest digits that read back, but when two candidates
/// of that length are equally close they may pick differently (std rounds
/// half up, zmij to even: 1251729620698.53125 is ...5313 in one and ...5312
/// in the other). That can only happen at 16 or 17 significant digits:
/// numbers of at most 15 digits are spaced more than 10^-15 apart,
/// relatively, and the interval that reads back as one `f64` is at most
/// 2^-52 < 2.3 × 10^-16 of it wide, so it holds at most one of them. Longer
/// outputs therefore go through std. A job's `ms` (nanoseconds / 10^6) has
/// at most 15 digits for any run shorter than 11 days.
fn push_ms(out: &mut Vec<u8>, ms: f64) {
    debug_assert!(ms.is_finite());
    let mut buffer = zmij::Buffer::new();
    let text = buffer.format_finite(ms).as_bytes();
    if text.len() <= 16 && !text.contains(&b'e') {
        // Fixed notation, at most 15 digits: zmij's text is Display's but
        // for the ".0" it puts after a whole number.
        out.extend_from_slice(text.strip_suffix(b".0").unwrap_or(text));
        return;
    }
    let (negative, text) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    let (mantissa, exponent) = match text.iter().position(|&b| b == b'e') {
        Some(i) => (&text[..i], parse_exponent(&text[i + 1..])),
        None => (text, 0),
    };
    let (int, frac) = match mantissa.iter().position(|&b| b == b'.') {
        Some(i) => (&mantissa[..i], &mantissa[i + 1..]),
        None => (mantissa, &[][..]),
    };
    // The significant digits, and where the decimal point goes among them.
    let mut digits = [0u8; 40];
    let count = int.len() + frac.len();
    digits[..int.len()].copy_from_slice(int);
    digits[int.len()..count].copy_from_slice(frac);
    let mut digits = &digits[..count];
    let mut point = int.len() as i32 + exponent;
    while let Some((b'0', rest)) = digits.split_first() {
        digits = rest;
        point -= 1;
    }
    while let Some((b'0', rest)) = digits.split_last() {
        digits = rest;
    }
    if digits.len() > 15 {
        let _ = std::io::Write::write_fmt(out, format_args!("{ms}"));
        return;
    }
    if negative {
        out.push(b'-');
    }
    if digits.is_empty() {
        out.push(b'0');
    } else if point <= 0 {
        out.extend_from_slice(b"0.");
        out.resize(out.len() + point.unsigned_abs() as usize, b'0');
        out.extend_from_slice(digits);
    } else if point as usize >= digits.len() {
        out.extend_from_slice(digits);
        out.resize(out.len() + point as usize - digits.len(), b'0');
    } else {
        let (whole, fraction) = digits.split_at(point as usize);
        out.extend_from_slice(whole);
        out.push(b'.');
        out.extend_from_slice(fraction);
    }
}

/// Appends `nanos` in milliseconds exactly as [`push_ms`] appends
/// `nanos as f64 / 1e6`, from the integer: the decimal `nanos / 10^6` has at
/// most 15 significant digits below 10^15 ns (11 days), so (see
/// [`push_ms`]) it is the shortest text that reads back as that float, and
/// it is what `Display` writes. Beyond, through the float.
fn push_nanos_as_ms(out: &mut Vec<u8>, nanos: u64) {
    const LIMIT: u64 = 1_000_000_000_000_000;
    if nanos >= LIMIT {
        push_ms(out, nanos as f64 / 1e6);
        return;
    }
    push_int(out, nanos / 1_000_000);
    let fraction = nanos % 1_000_000;
    if fraction != 0 {
        let mut digits = *b".000000";
        let mut rest = fraction;
        for digit in digits[1..].iter_mut().rev() {
            *digit = b'0' + (rest % 10) as u8;
            rest /= 10;
        }
        let end = digits.iter().rposition(|&d| d != b'0').expect("a digit is not 0") + 1;
        out.extend_from_slice(&digits[..end]);
    }
}

/// The exponent after zmij's `e`: an optional sign and decimal digits.
fn parse_exponent(text: &[u8]) -> i32 {
    let (sign, digits) = match text.split_first() {
        Some((b'-', rest)) => (-1, rest),
        Some((b'+', rest)) => (1, rest),
        _ => (1, text),
    };
    sign * digits.iter().fold(0i32, |n, &d| n * 10 + i32::from(d - b'0'))
}

/// Appends `s` as a JSON string.
fn json_str(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f => &[b'\\', b'u', b'0', b'0', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]],
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(escape);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hand_written_encoder_matches_serde() {
        let mut r = JobRecord::rejected(
            12,
            "cube".into(),
            vec!["a \"b\"".into(), "\\ \n\t\u{1}é".into()],
            "x".into(),
        );
        let check = |r: &JobRecord| {
            let mut ours = Vec::new();
            encode_record(&mut ours, r, 0);
            assert_eq!(ours.last(), Some(&b'\n'));
            let ours: serde_json::Value = serde_json::from_slice(&ours).unwrap();
            let theirs = serde_json::to_value(r).unwrap();
            assert_eq!(ours, theirs);
        };
        check(&r);
        r.status = Status::Ok;
        r.error = None;
        r.value = Some(serde_json::value::RawValue::from_string("{\"a\":[1,2.5]}".into()).unwrap());
        r.worker = Some(4242);
        r.ms = Some(0.004);
        r.start = Some(1234.5678);
        r.cpu_ms = Some(0.0031);
        r.attempts = 3;
        check(&r);
        r.status = Status::Crashed;
        r.value = None;
        r.signal = Some("SIGSEGV".into());
        r.exit_code = Some(-3);
        r.stderr = Some("line 1\nline \"2\"".into());
        r.ms = Some(1e-7);
        check(&r);
        r.status = Status::Ok;
        (r.signal, r.exit_code) = (None, None);
        r.stdout = Some("printed \u{fffd}\n\u{1b}[2J".into());
        check(&r);
    }

    /// The encoder as it was written with `write!` and `Display`: what
    /// the journal's bytes must stay.
    fn encode_with_fmt(out: &mut Vec<u8>, r: &JobRecord, occurrence: u32) {
        use std::io::Write as _;
        let _ = write!(out, "{{\"line\":{},", r.line);
        if occurrence > 0 {
            let _ = write!(out, "\"occurrence\":{occurrence},");
        }
        out.extend_from_slice(b"\"task\":");
        json_str(out, &r.task);
        out.extend_from_slice(b",\"args\":[");
        for (i, arg) in r.args.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            json_str(out, arg);
        }
        out.extend_from_slice(b"],\"status\":\"");
        out.extend_from_slice(r.status.as_str().as_bytes());
        out.push(b'"');
        if let Some(value) = &r.value {
            out.extend_from_slice(b",\"value\":");
            out.extend_from_slice(value.get().as_bytes());
        }
        for (key, text) in [("error", &r.error), ("signal", &r.signal)] {
            if let Some(text) = text {
                let _ = write!(out, ",\"{key}\":");
                json_str(out, text);
            }
        }
        if let Some(code) = r.exit_code {
            let _ = write!(out, ",\"exit_code\":{code}");
        }
        for (key, text) in [("stdout", &r.stdout), ("stderr", &r.stderr)] {
            if let Some(text) = text {
                let _ = write!(out, ",\"{key}\":");
                json_str(out, text);
            }
        }
        let _ = write!(out, ",\"attempts\":{}", r.attempts);
        if let Some(worker) = r.worker {
            let _ = write!(out, ",\"worker\":{worker}");
        }
        if let Some(ms) = r.ms.filter(|ms| ms.is_finite()) {
            let _ = write!(out, ",\"ms\":{ms}");
        }
        if let Some(start) = r.start.filter(|start| start.is_finite()) {
            let _ = write!(out, ",\"start\":{start}");
        }
        if let Some(cpu_ms) = r.cpu_ms.filter(|ms| ms.is_finite()) {
            let _ = write!(out, ",\"cpu_ms\":{cpu_ms}");
        }
        out.extend_from_slice(b"}\n");
    }

    /// A xorshift64 generator: the same numbers on every run.
    fn xorshift(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    /// `push_ms` against `Display`, one value.
    fn check_ms(ms: f64) {
        let mut ours = Vec::new();
        push_ms(&mut ours, ms);
        assert_eq!(String::from_utf8(ours).unwrap(), ms.to_string(), "bits {:#x}", ms.to_bits());
    }

    #[test]
    fn ms_is_printed_as_display_prints_it() {
        for ms in [
            0.0,
            -0.0,
            1.0,
            0.5,
            0.004,
            1e-7,
            1.5e-7,
            0.1 + 0.2,
            123.456,
            1e15,
            1e16,
            1e21,
            1e22,
            1.2345e-5,
            1e23,
            f64::EPSILON,
            f64::MIN_POSITIVE,
            5e-324,
            f64::MAX,
            f64::MIN,
            -1.5,
        ] {
            check_ms(ms);
        }
        // Every power of ten and its neighbours: where the layout changes.
        for e in -324..=308 {
            let p: f64 = format!("1e{e}").parse().unwrap();
            for v in [p, p.next_up(), p.next_down(), 2.5 * p, 9.5 * p] {
                if v.is_finite() {
                    check_ms(v);
                }
            }
        }
        // What the journal holds: nanoseconds / 1e6, short jobs densely.
        for nanos in 0..300_000u64 {
            check_ms(nanos as f64 / 1e6);
        }
        let mut state = 0x2545_f491_4f6c_dd1d;
        for _ in 0..300_000 {
            let nanos = xorshift(&mut state) >> (xorshift(&mut state) % 64);
            check_ms(nanos as f64 / 1e6);
        }
        // Any finite double at all.
        for _ in 0..300_000 {
            let v = f64::from_bits(xorshift(&mut state));
            if v.is_finite() {
                check_ms(v);
            }
        }
    }

    #[test]
    fn fields_in_nanoseconds_are_written_as_their_float_milliseconds_are() {
        let mut r = JobRecord::rejected(7, "cube".into(), vec!["3".into()], "x".into());
        (r.status, r.error) = (Status::Ok, None);
        r.value = Some(RawValue::from_string("27".into()).unwrap());
        (r.ms, r.start, r.cpu_ms) = (Some(0.000135), Some(4435.362), Some(2.5));
        let mut theirs = Vec::new();
        encode_record(&mut theirs, &r, 2);
        let mut fields = Fields::of(&r, 2);
        fields.ms = Some(Millis::Nanos(135));
        fields.start = Some(Millis::Nanos(4_435_362_000));
        fields.cpu_ms = Some(Millis::Nanos(2_500_000));
        let mut ours = Vec::new();
        encode_fields(&mut ours, &fields);
        assert_eq!(String::from_utf8(ours).unwrap(), String::from_utf8(theirs).unwrap());
    }

    /// `push_nanos_as_ms` against `Display` of the float, one value.
    fn check_nanos(nanos: u64) {
        let mut ours = Vec::new();
        push_nanos_as_ms(&mut ours, nanos);
        assert_eq!(String::from_utf8(ours).unwrap(), (nanos as f64 / 1e6).to_string(), "{nanos} ns");
    }

    #[test]
    fn nanoseconds_are_printed_as_their_milliseconds_float_is() {
        for nanos in 0..300_000u64 {
            check_nanos(nanos);
        }
        for e in 0..20 {
            let p = 10u64.pow(e);
            for n in [p - 1, p, p + 1, p.saturating_mul(3), p.saturating_mul(7).saturating_add(1)] {
                check_nanos(n);
            }
        }
        for n in [999_999_999_999_999, 1_000_000_000_000_000, 1_000_000_000_000_001, u64::MAX] {
            check_nanos(n);
        }
        let mut state = 0x2545_f491_4f6c_dd1d;
        for _ in 0..300_000 {
            check_nanos(xorshift(&mut state) >> (xorshift(&mut state) % 64));
        }
    }

    #[test]
    fn integers_are_printed_as_display_prints_them() {
        let mut out = Vec::new();
        for n in [0u64, 1, 9, 10, 99, 100, 12_345, u64::from(u32::MAX), u64::MAX] {
            out.clear();
            push_int(&mut out, n);
            assert_eq!(out, n.to_string().as_bytes());
        }
        for n in [0i32, -1, 7, -42, i32::MIN, i32::MAX] {
            out.clear();
            push_int(&mut out, n);
            assert_eq!(out, n.to_string().as_bytes());
        }
    }

    #[test]
    fn control_characters_are_escaped_as_serde_escapes_them() {
        for c in (0u8..0x80).map(char::from).chain(['é', '\u{7f}', '\u{2028}', '😀']) {
            let text = format!("a{c}b{c}");
            let mut ours = Vec::new();
            json_str(&mut ours, &text);
            let ours = String::from_utf8(ours).unwrap();
            assert_eq!(serde_json::from_str::<String>(&ours).unwrap(), text);
            if c < ' ' && !"\n\r\t".contains(c) {
                assert_eq!(ours, format!("\"a\\u{:04x}b\\u{:04x}\"", c as u32, c as u32));
            }
        }
    }

    #[test]
    fn the_journal_s_bytes_are_those_of_the_fmt_encoder() {
        let mut state = 0x9e37_79b9_7f4a_7c15;
        let mut records = Vec::new();
        for i in 0..20_000u64 {
            let r = xorshift(&mut state);
            let mut record = JobRecord::rejected(
                r >> (r % 64),
                ["cube", "a \"b\"", "é\n"][(i % 3) as usize].into(),
                (0..i % 4).map(|k| format!("{k}\t{}", r % 1000)).collect(),
                "x".into(),
            );
            match i % 4 {
                0 => {
                    record.status = Status::Ok;
                    record.error = None;
                    record.value = Some(RawValue::from_string(format!("{}", r % 100_000)).unwrap());
                }
                1 => {
                    record.status = Status::Crashed;
                    record.signal = Some("SIGKILL".into());
                    record.exit_code = Some((r as i32) >> (r % 32));
                    record.stderr = Some("oops\u{1}\r\n".into());
                }
                2 => record.status = Status::Timeout,
                _ => record.stdout = Some(format!("out {}\n", r % 7)),
            }
            record.attempts = (r % 5) as u32;
            record.worker = (i % 5 != 0).then_some((r >> 40) as u32);
            record.ms = match i % 7 {
                0 => None,
                1 => Some(f64::NAN),
                2 => Some(f64::INFINITY),
                3 => Some(f64::from_bits(r)),
                _ => Some((r >> (r % 64)) as f64 / 1e6),
            };
            record.start = match i % 5 {
                0 => None,
                1 => Some(f64::NAN),
                _ => Some((r >> (r % 48)) as f64 / 1e6),
            };
            records.push((record, if i % 3 == 0 { 0 } else { (r % 4) as u32 }));
        }
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        for (record, occurrence) in &records {
            ours.clear();
            theirs.clear();
            encode_record(&mut ours, record, *occurrence);
            encode_with_fmt(&mut theirs, record, *occurrence);
            assert_eq!(String::from_utf8_lossy(&ours), String::from_utf8_lossy(&theirs));
        }
    }

    #[test]
    fn strings_are_escaped_the_short_way() {
        let mut out = Vec::new();
        json_str(&mut out, "a\"b\\c\nd\re\tf\u{1}g\u{7f}é");
        assert_eq!(String::from_utf8(out).unwrap(), "\"a\\\"b\\\\c\\nd\\re\\tf\\u0001g\u{7f}é\"");
    }

    #[test]
    fn a_repeat_s_occurrence_is_written_and_a_first_s_is_not() {
        let r = JobRecord::rejected(3, "cube".into(), vec!["2".into()], "x".into());
        let mut first = Vec::new();
        encode_record(&mut first, &r, 0);
        assert!(!String::from_utf8_lossy(&first).contains("occurrence"));
        let mut repeat = Vec::new();
        encode_record(&mut repeat, &r, 2);
        assert!(String::from_utf8_lossy(&repeat).starts_with("{\"line\":3,\"occurrence\":2,\"task\""));
    }
}
