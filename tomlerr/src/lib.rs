//! One rendering of a TOML error for every file vodfarm reads (ladders, per-title
//! policies, fleets, the backend config), so that each says where and why on one line:
//! `TOML parse error at line 12, column 6: invalid type: string "x", expected u32`.
//! toml's own text puts the reason after a multi-line excerpt of the file, so its first
//! line alone says only where, and the whole text does not fit an error line.

/// `e` on one line: where (when toml knows), then what.
pub fn one_line(e: &toml::de::Error) -> String {
    let what = e
        .message()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    match e.to_string().lines().next() {
        Some(place) if place.starts_with("TOML parse error") => format!("{place}: {what}"),
        _ => what,
    }
}

#[cfg(test)]
mod tests {
    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct T {
        n: u32,
    }

    #[test]
    fn says_where_and_why_on_one_line() {
        let e = toml::from_str::<T>("\nn = \"x\"\n").unwrap_err();
        let line = super::one_line(&e);
        assert!(!line.contains('\n'), "{line}");
        assert!(line.contains("line 2, column 5"), "{line}");
        assert!(line.contains("invalid type"), "{line}");
        let e = toml::from_str::<T>("m = 1\n").unwrap_err();
        assert!(super::one_line(&e).contains("missing field `n`"));
    }
}
