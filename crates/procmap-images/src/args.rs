//! A small parser for task arguments: positionals plus `--name VALUE`
//! options. Job lines are already split into words by the supervisor, so
//! this only has to tell options from positionals.

/// Positional arguments in order, and the options that were given.
#[derive(Debug, Default)]
pub struct Args {
    pub positional: Vec<String>,
    options: Vec<(&'static str, String)>,
}

impl Args {
    /// Splits `args` into positionals and the options named in `known`
    /// (without their leading `--`). Accepts `--name VALUE` and
    /// `--name=VALUE`; `--` ends option parsing so that a file name may start
    /// with `--`. Unknown or repeated options are errors: a typo must not be
    /// silently read as a file name.
    pub fn parse(args: &[String], known: &[&'static str]) -> Result<Args, String> {
        let mut out = Args::default();
        let mut iter = args.iter();
        while let Some(arg) = iter.next() {
            if arg == "--" {
                out.positional.extend(iter.by_ref().cloned());
                break;
            }
            let Some(body) = arg.strip_prefix("--") else {
                out.positional.push(arg.clone());
                continue;
            };
            let (name, inline) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v.to_owned())),
                None => (body, None),
            };
            let Some(&name) = known.iter().find(|k| **k == name) else {
                return Err(if known.is_empty() {
                    format!("unknown option --{name} (this task takes no options)")
                } else {
                    let list: Vec<String> = known.iter().map(|k| format!("--{k}")).collect();
                    format!("unknown option --{name} (known: {})", list.join(", "))
                });
            };
            let value = match inline {
                Some(v) => v,
                None => iter.next().cloned().ok_or_else(|| format!("--{name} needs a value"))?,
            };
            if out.get(name).is_some() {
                return Err(format!("--{name} given twice"));
            }
            out.options.push((name, value));
        }
        Ok(out)
    }

    /// The value of option `name`, if it was given.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.options.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn options_and_positionals() {
        let a =
            Args::parse(&s(&["in.tif", "--bands", "1,2,3", "out.png", "--scale=3000"]), &["bands", "scale"])
                .unwrap();
        assert_eq!(a.positional, s(&["in.tif", "out.png"]));
        assert_eq!(a.get("bands"), Some("1,2,3"));
        assert_eq!(a.get("scale"), Some("3000"));
    }

    #[test]
    fn errors() {
        assert!(Args::parse(&s(&["--bogus"]), &["bands"]).unwrap_err().contains("unknown option --bogus"));
        assert_eq!(Args::parse(&s(&["x", "--bands"]), &["bands"]).unwrap_err(), "--bands needs a value");
        assert_eq!(
            Args::parse(&s(&["--bands", "1", "--bands=2"]), &["bands"]).unwrap_err(),
            "--bands given twice"
        );
        let a = Args::parse(&s(&["--", "--weird.tif"]), &[]).unwrap();
        assert_eq!(a.positional, s(&["--weird.tif"]));
    }
}
