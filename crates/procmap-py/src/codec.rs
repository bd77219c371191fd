//! How items and return values are written in a journal record: as JSON
//! when they round-trip exactly through it, so that `jq` reads them, and
//! pickled otherwise.
//!
//! - An item is the record's `args[0]`: its compact JSON text, or
//!   `pickle:` and the base64 of its pickle (JSON text never starts with
//!   `p`). That text is also the item's identity for a resume.
//! - A value is the record's `value`: the JSON value itself, or
//!   `{"$pickle": "<base64>"}`. A returned dict that is exactly
//!   `{"$pickle": ...}` is itself pickled, so reading back is unambiguous.
//!
//! Exact means exact types, recursively: None, bool, int (within 64 bits,
//! which every JSON reader holds exactly), finite float, str (without lone
//! surrogates), list, and dict with str keys in sorted order (the engine's
//! worker writes a value through `serde_json::Value`, whose objects sort
//! their keys: a dict in another order is pickled, so that its order is
//! kept). A tuple, a subclass (bool is not an int here, an IntEnum is not
//! either), a NaN or an infinity is pickled.
//!
//! Decisions are type checks, and reading back takes the common scalars
//! (an int, a plain string) without calling Python's `json`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString};
use serde_json::{Map, Number, Value};

/// The prefix of a pickled item's text.
pub(crate) const PICKLE_PREFIX: &str = "pickle:";
/// The key of a pickled value's object.
const PICKLE_KEY: &str = "$pickle";
/// Lists and dicts nested deeper than this are pickled.
const MAX_DEPTH: u32 = 100;

/// The JSON form of `obj`, when it round-trips exactly (see the module
/// docs).
pub(crate) fn exact_json(obj: &Bound<'_, PyAny>) -> Option<Value> {
    to_json(obj, MAX_DEPTH)
}

fn to_json(obj: &Bound<'_, PyAny>, depth: u32) -> Option<Value> {
    if let Ok(i) = obj.cast_exact::<PyInt>() {
        return int64(i).map(Value::Number);
    }
    if let Ok(s) = obj.cast_exact::<PyString>() {
        return s.to_cow().ok().map(|s| Value::String(s.into_owned()));
    }
    if obj.is_none() {
        return Some(Value::Null);
    }
    if let Ok(b) = obj.cast_exact::<PyBool>() {
        return Some(Value::Bool(b.is_true()));
    }
    if let Ok(f) = obj.cast_exact::<PyFloat>() {
        return Number::from_f64(f.value()).map(Value::Number);
    }
    let depth = depth.checked_sub(1)?;
    if let Ok(list) = obj.cast_exact::<PyList>() {
        return list.iter().map(|x| to_json(&x, depth)).collect::<Option<Vec<_>>>().map(Value::Array);
    }
    if let Ok(dict) = obj.cast_exact::<PyDict>() {
        let mut map = Map::new();
        let mut last: Option<String> = None;
        for (k, v) in dict.iter() {
            let key = k.cast_exact::<PyString>().ok()?.to_cow().ok()?.into_owned();
            // Sorted, as the map writes them: anything else would reorder.
            if last.as_ref().is_some_and(|l| *l >= key) {
                return None;
            }
            map.insert(key.clone(), to_json(&v, depth)?);
            last = Some(key);
        }
        if map.len() == 1 && map.contains_key(PICKLE_KEY) {
            return None;
        }
        return Some(Value::Object(map));
    }
    None
}

/// An int within 64 bits (which every JSON reader holds exactly), signed
/// or not; beyond, `None`: it is pickled.
fn int64(i: &Bound<'_, PyInt>) -> Option<Number> {
    match i.extract::<i64>() {
        Ok(n) => Some(Number::from(n)),
        Err(_) => i.extract::<u64>().ok().map(Number::from),
    }
}

/// Appends `obj`'s JSON if it is an exact int within 64 bits, the
/// commonest item and value: what [`exact_json`] makes of it, without
/// building a `Value`. Returns whether it did.
fn write_int(obj: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> bool {
    let Some(n) = obj.cast_exact::<PyInt>().ok().and_then(int64) else { return false };
    // serde_json writes a Number's digits with itoa, straight into `out`.
    serde_json::to_writer(&mut *out, &n).expect("a Number writes to a Vec");
    true
}

/// Appends the base64 of `bytes` (which has no character JSON escapes).
fn push_base64(out: &mut Vec<u8>, bytes: &[u8]) {
    let start = out.len();
    out.resize(start + base64::encoded_len(bytes.len(), true).expect("a pickle's base64 fits memory"), 0);
    let written = BASE64.encode_slice(bytes, &mut out[start..]).expect("sized by encoded_len");
    out.truncate(start + written);
}

/// The process's [`Pickler`], made on first use.
pub(crate) fn pickler(py: Python<'_>) -> PyResult<&'static Pickler> {
    static PICKLER: pyo3::sync::PyOnceLock<Pickler> = pyo3::sync::PyOnceLock::new();
    PICKLER.get_or_try_init(py, || Pickler::new(py))
}

/// Encodes and decodes items and values: `pickle` and `json`, looked up
/// once.
pub(crate) struct Pickler {
    dumps: Py<PyAny>,
    loads: Py<PyAny>,
    json_loads: Py<PyAny>,
    protocol: Py<PyAny>,
}

impl Pickler {
    pub(crate) fn new(py: Python<'_>) -> PyResult<Pickler> {
        let pickle = py.import("pickle")?;
        Ok(Pickler {
            dumps: pickle.getattr("dumps")?.unbind(),
            loads: pickle.getattr("loads")?.unbind(),
            json_loads: py.import("json")?.getattr("loads")?.unbind(),
            protocol: pickle.getattr("HIGHEST_PROTOCOL")?.unbind(),
        })
    }

    /// `pickle.dumps(obj, HIGHEST_PROTOCOL)`, the bytes object itself (a
    /// chunk's answer is copied once, into its message).
    pub(crate) fn dumps<'py>(&self, obj: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
        let py = obj.py();
        Ok(self.dumps.bind(py).call1((obj, self.protocol.bind(py)))?.cast_into::<PyBytes>()?)
    }

    /// `pickle.loads(bytes)`.
    pub(crate) fn loads<'py>(&self, py: Python<'py>, bytes: &[u8]) -> PyResult<Bound<'py, PyAny>> {
        self.loads.bind(py).call1((PyBytes::new(py, bytes),))
    }

    fn loads_b64<'py>(&self, py: Python<'py>, b64: &str) -> PyResult<Bound<'py, PyAny>> {
        let bytes = BASE64
            .decode(b64)
            .map_err(|e| pyo3::exceptions::PyValueError::new_err(format!("corrupt pickle text: {e}")))?;
        self.loads.bind(py).call1((PyBytes::new(py, &bytes),))
    }

    /// An item's text for its record: its JSON, or its pickle. An error
    /// means it cannot be pickled.
    pub(crate) fn item_text(&self, item: &Bound<'_, PyAny>) -> PyResult<String> {
        let mut text = Vec::new();
        self.write_item_text(item, &mut text)?;
        Ok(String::from_utf8(text).expect("JSON and base64 are UTF-8"))
    }

    /// Appends [`Self::item_text`] to `out`; on an error, `out` is as it
    /// was.
    pub(crate) fn write_item_text(&self, item: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> PyResult<()> {
        if write_int(item, out) {
            return Ok(());
        }
        match exact_json(item) {
            Some(value) => {
                serde_json::to_writer(&mut *out, &value).expect("a Value writes to a Vec");
                Ok(())
            }
            None => {
                let pickle = self.dumps(item)?;
                out.extend_from_slice(PICKLE_PREFIX.as_bytes());
                push_base64(out, pickle.as_bytes());
                Ok(())
            }
        }
    }

    /// The item an item's text stands for.
    pub(crate) fn item<'py>(&self, py: Python<'py>, text: &str) -> PyResult<Bound<'py, PyAny>> {
        match text.strip_prefix(PICKLE_PREFIX) {
            Some(b64) => self.loads_b64(py, b64),
            None => self.json(py, text),
        }
    }

    /// Appends a return value's JSON as its record holds it: the value
    /// itself, or `{"$pickle": "<base64>"}`. An error means it cannot be
    /// pickled; `out` is then as it was.
    pub(crate) fn write_value_json(&self, value: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> PyResult<()> {
        if write_int(value, out) {
            return Ok(());
        }
        match exact_json(value) {
            Some(json) => serde_json::to_writer(&mut *out, &json).expect("a Value writes to a Vec"),
            None => {
                let pickle = self.dumps(value)?;
                out.extend_from_slice(b"{\"");
                out.extend_from_slice(PICKLE_KEY.as_bytes());
                out.extend_from_slice(b"\":\"");
                push_base64(out, pickle.as_bytes());
                out.extend_from_slice(b"\"}");
            }
        }
        Ok(())
    }

    /// The value a record's `value` (JSON text) stands for.
    pub(crate) fn value<'py>(&self, py: Python<'py>, text: &str) -> PyResult<Bound<'py, PyAny>> {
        if text.starts_with("{\"$pickle\"") {
            #[derive(serde::Deserialize)]
            #[serde(deny_unknown_fields)]
            struct Pickled<'a> {
                #[serde(rename = "$pickle", borrow)]
                pickle: std::borrow::Cow<'a, str>,
            }
            if let Ok(p) = serde_json::from_str::<Pickled>(text) {
                return self.loads_b64(py, &p.pickle);
            }
        }
        self.json(py, text)
    }

    /// JSON text as Python's `json.loads` reads it, the common scalars
    /// without calling it.
    fn json<'py>(&self, py: Python<'py>, text: &str) -> PyResult<Bound<'py, PyAny>> {
        let bytes = text.as_bytes();
        match bytes.first() {
            Some(b'-' | b'0'..=b'9') if bytes[1..].iter().all(u8::is_ascii_digit) => {
                if let Ok(n) = text.parse::<i64>() {
                    return Ok(n.into_pyobject(py)?.into_any());
                }
            }
            Some(b'"')
                if bytes.len() >= 2
                    && bytes[bytes.len() - 1] == b'"'
                    && !bytes[1..bytes.len() - 1].iter().any(|&b| b == b'\\' || b == b'"' || b < 0x20) =>
            {
                // A string without escapes: its text is its content.
                return Ok(PyString::new(py, &text[1..text.len() - 1]).into_any());
            }
            _ => match text {
                "null" => return Ok(py.None().into_bound(py)),
                "true" => return Ok(PyBool::new(py, true).to_owned().into_any()),
                "false" => return Ok(PyBool::new(py, false).to_owned().into_any()),
                _ => {}
            },
        }
        self.json_loads.bind(py).call1((text,))
    }
}
