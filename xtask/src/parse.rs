//! Parsers for the summaries test runners print, so `cargo xtask test` can add them up.

use std::ops::AddAssign;

/// Passed and failed test counts.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Tests that passed.
    pub passed: u64,
    /// Tests that failed.
    pub failed: u64,
}

impl AddAssign for Counts {
    fn add_assign(&mut self, rhs: Self) {
        self.passed += rhs.passed;
        self.failed += rhs.failed;
    }
}

/// Counts from a libtest summary line:
/// `test result: ok. 3 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s`
/// or `test result: FAILED. 1 passed; 2 failed; ...`.
pub fn cargo_test_result(line: &str) -> Option<Counts> {
    let line = strip_ansi(line);
    let rest = line.trim().strip_prefix("test result:")?.trim_start();
    if !(rest.starts_with("ok.") || rest.starts_with("FAILED.")) {
        return None;
    }
    Some(counts(rest))
}

/// Counts from vitest's summary line: `Tests  5 passed (5)` or
/// `Tests  1 failed | 4 passed | 1 skipped (6)`, with or without colour codes.
pub fn vitest_summary(line: &str) -> Option<Counts> {
    let line = strip_ansi(line);
    let rest = line.trim().strip_prefix("Tests")?;
    if !rest.starts_with(char::is_whitespace)
        || !rest.trim_start().starts_with(|c: char| c.is_ascii_digit())
    {
        return None;
    }
    Some(counts(rest))
}

/// Adds up every `N passed` and `N failed` in `s`.
fn counts(s: &str) -> Counts {
    let words: Vec<&str> = s.split_whitespace().collect();
    let mut total = Counts::default();
    for pair in words.windows(2) {
        let Ok(n) = pair[0].parse::<u64>() else {
            continue;
        };
        match pair[1].trim_end_matches([';', ',', '.']) {
            "passed" => total.passed += n,
            "failed" => total.failed += n,
            _ => {}
        }
    }
    total
}

/// Removes ANSI escape sequences (colours, cursor moves, hyperlinks) from `s`.
pub fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        match chars.next() {
            // CSI: parameter bytes, then one final byte in '@'..='~'.
            Some('[') => {
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            // OSC: up to BEL or ESC '\'.
            Some(']') => {
                while let Some(c) = chars.next() {
                    if c == '\u{7}' {
                        break;
                    }
                    if c == '\u{1b}' {
                        chars.next();
                        break;
                    }
                }
            }
            // Any other escape is two characters long.
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(passed: u64, failed: u64) -> Option<Counts> {
        Some(Counts { passed, failed })
    }

    #[test]
    fn cargo_ok_line() {
        let line = "test result: ok. 12 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.03s";
        assert_eq!(cargo_test_result(line), c(12, 0));
    }

    #[test]
    fn cargo_failed_line() {
        let line = "test result: FAILED. 7 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out; finished in 1.20s";
        assert_eq!(cargo_test_result(line), c(7, 2));
    }

    #[test]
    fn cargo_lines_add_up_and_others_are_ignored() {
        let output = "\
running 3 tests
test a ... ok
test b ... FAILED
test c ... ok

failures:
    b

test result: FAILED. 2 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s

error: test failed, to rerun pass `-p bedside-store --lib`
     Running tests/tests.rs (target/debug/deps/tests-0123)
test result: ok. 40 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 2.50s
   Doc-tests bedside_core
test result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s
the test result: 99 passed is not a summary
";
        let mut total = Counts::default();
        for line in output.lines() {
            if let Some(found) = cargo_test_result(line) {
                total += found;
            }
        }
        assert_eq!(
            total,
            Counts {
                passed: 42,
                failed: 1
            }
        );
    }

    #[test]
    fn cargo_line_with_colour_codes() {
        let line = "test result: \u{1b}[32mok\u{1b}[0m. 3 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s";
        assert_eq!(cargo_test_result(line), c(3, 0));
    }

    #[test]
    fn vitest_plain_lines() {
        assert_eq!(vitest_summary("      Tests  5 passed (5)"), c(5, 0));
        assert_eq!(
            vitest_summary("      Tests  2 failed | 3 passed (5)"),
            c(3, 2)
        );
        assert_eq!(
            vitest_summary("      Tests  1 failed | 4 passed | 2 skipped | 1 todo (8)"),
            c(4, 1)
        );
    }

    #[test]
    fn vitest_ignores_other_lines() {
        assert_eq!(vitest_summary(" Test Files  1 failed | 2 passed (3)"), None);
        assert_eq!(vitest_summary("   Start at  10:00:00"), None);
        assert_eq!(vitest_summary("Tests passed in my head"), None);
        assert_eq!(vitest_summary("TestsFoo 3 passed"), None);
    }

    #[test]
    fn vitest_lines_with_colour_codes() {
        let ok = "\u{1b}[2m      Tests \u{1b}[22m \u{1b}[1m\u{1b}[32m5 passed\u{1b}[39m\u{1b}[22m\u{1b}[90m (5)\u{1b}[39m";
        assert_eq!(vitest_summary(ok), c(5, 0));
        let failed = "\u{1b}[2m      Tests \u{1b}[22m \u{1b}[1m\u{1b}[31m2 failed\u{1b}[39m\u{1b}[22m\u{1b}[2m | \u{1b}[22m\u{1b}[1m\u{1b}[32m9 passed\u{1b}[39m\u{1b}[22m\u{1b}[90m (11)\u{1b}[39m";
        assert_eq!(vitest_summary(failed), c(9, 2));
    }

    #[test]
    fn ansi_stripping() {
        assert_eq!(strip_ansi("\u{1b}[1;31mred\u{1b}[0m plain"), "red plain");
        assert_eq!(
            strip_ansi("\u{1b}]8;;file:///x\u{7}link\u{1b}]8;;\u{1b}\\ end"),
            "link end"
        );
        assert_eq!(strip_ansi("no codes"), "no codes");
        assert_eq!(strip_ansi("dangling \u{1b}"), "dangling ");
    }
}
