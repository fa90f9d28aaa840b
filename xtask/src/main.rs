//! Project automation for Bedside: `cargo xtask setup | run | test | bench | bundle | fmt`.

mod apt;
mod bench;
mod bench_app;
mod bundle;
mod camera_vm;
mod cross;
mod desktop;
mod fuzz;
mod keychain;
mod packages;
mod parse;
mod setup;
mod test;
mod util;
mod wine;

use std::env;
use std::process::ExitCode;

use anyhow::Result;

use crate::setup::{Purpose, SKIP_PACKAGES_VAR};
use crate::util::{Exit, Workspace, exit_code, status};

fn usage() -> String {
    format!(
        "\
Usage: cargo xtask <command>

Commands:
  setup [--for run|test]    install missing system packages (as root; otherwise print the
                            apt-get command and exit 2), npm ci and build ui/ into ui/dist.
                            Default: --for test (everything).
  run [-- ARGS]             setup --for run, then run the desktop app (needs a display)
  test [--no-setup] [--only rust|ui|lint[,...]] [-- CARGO_TEST_ARGS]
                            setup --for test, then fmt, clippy, cargo test (in a throwaway
                            Secret Service), the UI tests; ends with `N passed, N failed`
  bench TARGET [-- ARGS]    setup, then run a benchmark. Targets:
{targets}  bundle [--target-dir DIR] [--no-build] [--install-test]
                            the release .deb (Tauri bundler; lintian must report no errors)
                            and the relay binary with its systemd unit; --install-test (root)
                            installs the .deb, starts it under Xvfb with a managed policy,
                            and removes it
{targets}  fuzz [TARGET] [--secs N]  run the cargo-fuzz targets (protocol_decode, invite_token,
                            sdp_identity), each N seconds (default 60); needs cargo-fuzz
  fmt                       cargo fmt --all

Environment: {SKIP_PACKAGES_VAR}=1 skips the system package check (non-Debian systems).
",
        targets = bench::targets_help()
    )
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(err) => {
            if let Some(&Exit(code)) = err.downcast_ref::<Exit>() {
                ExitCode::from(code)
            } else {
                eprintln!("xtask: error: {err:#}");
                ExitCode::FAILURE
            }
        }
    }
}

fn run() -> Result<ExitCode> {
    let args = env::args_os()
        .skip(1)
        .map(|a| {
            a.into_string()
                .map_err(|a| anyhow::anyhow!("argument {a:?} is not UTF-8"))
        })
        .collect::<Result<Vec<_>>>()?;
    let (args, passthrough) = match args.iter().position(|a| a == "--") {
        Some(i) => (&args[..i], &args[i + 1..]),
        None => (&args[..], &[][..]),
    };
    let Some((command, flags)) = args.split_first() else {
        print!("{}", usage());
        return Ok(ExitCode::SUCCESS);
    };
    let ws = Workspace::locate()?;
    let mut flags = Flags::new(flags);
    let no_passthrough = |cmd: &str| {
        if passthrough.is_empty() {
            Ok(())
        } else {
            Err(usage_error(&format!(
                "`{cmd}` takes no arguments after `--`"
            )))
        }
    };
    match command.as_str() {
        "setup" => {
            let purpose = flags
                .value("--for")?
                .as_deref()
                .map_or(Ok(Purpose::Test), Purpose::parse)
                .map_err(|e| usage_error(&format!("{e}")))?;
            flags.done()?;
            no_passthrough("setup")?;
            setup::setup(&ws, purpose)?;
            util::step("setup done");
            Ok(ExitCode::SUCCESS)
        }
        "run" => {
            flags.done()?;
            desktop::run(&ws, passthrough)
        }
        "test" => {
            let setup = !flags.switch("--no-setup");
            let groups = flags
                .value("--only")?
                .as_deref()
                .map_or(Ok(test::Groups::ALL), test::Groups::parse)
                .map_err(|e| usage_error(&format!("{e}")))?;
            flags.done()?;
            let opts = test::Options {
                setup,
                groups,
                cargo_test_args: passthrough.to_vec(),
            };
            test::test(&ws, &opts)
        }
        "bench" => {
            let target = flags.positional();
            flags.done()?;
            bench::bench(&ws, target.as_deref(), passthrough)
        }
        "bundle" => {
            let opts = bundle::Options {
                target_dir: flags.value("--target-dir")?.map(Into::into),
                install_test: flags.switch("--install-test"),
                no_build: flags.switch("--no-build"),
            };
            flags.done()?;
            no_passthrough("bundle")?;
            bundle::bundle(&ws, &opts)
        }
        "fuzz" => fuzz_command(&ws, flags),
        "fmt" => {
            flags.done()?;
            no_passthrough("fmt")?;
            Ok(exit_code(status(&mut ws.cargo(&["fmt", "--all"]))?))
        }
        "help" | "-h" | "--help" => {
            print!("{}", usage());
            Ok(ExitCode::SUCCESS)
        }
        other => Err(usage_error(&format!("unknown command `{other}`"))),
    }
}

fn fuzz_command(ws: &Workspace, mut flags: Flags) -> Result<ExitCode> {
    let secs = match flags.value("--secs")? {
        Some(s) => s
            .parse::<u64>()
            .map_err(|_| usage_error("--secs takes a number of seconds"))?,
        None => 60,
    };
    let target = flags.positional();
    flags.done()?;
    fuzz::fuzz(ws, target.as_deref(), secs)
}

fn usage_error(msg: &str) -> anyhow::Error {
    eprintln!("xtask: {msg} (see `cargo xtask help`)");
    Exit(2).into()
}

/// Hand-rolled flag parsing: take what a command knows, then complain about the rest.
struct Flags {
    rest: Vec<String>,
}

impl Flags {
    fn new(args: &[String]) -> Self {
        Self {
            rest: args.to_vec(),
        }
    }

    /// Removes `name` if present.
    fn switch(&mut self, name: &str) -> bool {
        let before = self.rest.len();
        self.rest.retain(|a| a != name);
        self.rest.len() != before
    }

    /// Removes `name VALUE` or `name=VALUE` and returns the value.
    fn value(&mut self, name: &str) -> Result<Option<String>> {
        let prefix = format!("{name}=");
        if let Some(i) = self.rest.iter().position(|a| a.starts_with(&prefix)) {
            let arg = self.rest.remove(i);
            return Ok(arg.strip_prefix(&prefix).map(str::to_owned));
        }
        let Some(i) = self.rest.iter().position(|a| a == name) else {
            return Ok(None);
        };
        if i + 1 >= self.rest.len() {
            return Err(usage_error(&format!("`{name}` needs a value")));
        }
        let value = self.rest.remove(i + 1);
        self.rest.remove(i);
        Ok(Some(value))
    }

    /// Removes and returns the first argument that is not a flag.
    fn positional(&mut self) -> Option<String> {
        let i = self.rest.iter().position(|a| !a.starts_with('-'))?;
        Some(self.rest.remove(i))
    }

    /// Fails if anything was not taken.
    fn done(self) -> Result<()> {
        match self.rest.first() {
            None => Ok(()),
            Some(arg) => Err(usage_error(&format!("unexpected argument `{arg}`"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    fn flags(args: &[&str]) -> Flags {
        Flags::new(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn flags_take_values_both_ways() -> Result<()> {
        let mut f = flags(&["--no-setup", "--only", "rust"]);
        assert!(f.switch("--no-setup"));
        assert_eq!(f.value("--only")?.as_deref(), Some("rust"));
        f.done()?;
        let mut f = flags(&["--for=run"]);
        assert_eq!(f.value("--for")?.as_deref(), Some("run"));
        assert!(!f.switch("--no-setup"));
        f.done()
    }

    #[test]
    fn positionals_and_leftovers() -> Result<()> {
        let mut f = flags(&["store"]);
        assert_eq!(f.positional().as_deref(), Some("store"));
        f.done()?;
        let f = flags(&["--bogus"]);
        let err = f.done().err().context("leftover flag accepted")?;
        assert!(err.downcast_ref::<Exit>().is_some());
        Ok(())
    }

    #[test]
    fn every_module_starts_with_a_doc_line() -> Result<()> {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        for entry in std::fs::read_dir(&src)? {
            let path = entry?.path();
            let text = std::fs::read_to_string(&path)?;
            assert!(
                text.starts_with("//! "),
                "{} lacks a `//!` first line",
                path.display()
            );
        }
        Ok(())
    }
}
