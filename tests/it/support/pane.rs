//! A command in a tmux pane of a given size: the tests that look at what an admin sees on a
//! console (80x24 unless said otherwise).

use std::time::{Duration, Instant};

use crate::support;

/// A command in a tmux pane: wait for text, type, read the screen.
pub struct Pane {
    socket: String,
}

impl Pane {
    /// `cmd` (sh) in a 160x50 pane: room for everything, for tests about behaviour.
    pub fn start(cmd: &str) -> Option<Pane> {
        Pane::sized(cmd, 160, 50)
    }

    /// `cmd` (sh) in a pane of `width` x `height`, as on a console; after it ends the pane
    /// shows `EXIT:status`.
    pub fn sized(cmd: &str, width: u16, height: u16) -> Option<Pane> {
        if !support::require_tool(
            "tmux",
            "drives the interactive prompt through a real terminal",
        ) {
            return None;
        }
        let socket = format!("wrapfix-test-{}-{}", std::process::id(), rand_suffix());
        // The shell traps SIGINT (a handler, not an ignore, so the command keeps the default
        // action): a Ctrl-C that ends the command must not end the shell before it reports
        // the exit status.
        let script = format!("trap : INT; {cmd}; echo EXIT:$?; sleep 30");
        let ok = std::process::Command::new("tmux")
            .args([
                "-L",
                &socket,
                "new-session",
                "-d",
                "-x",
                &width.to_string(),
                "-y",
                &height.to_string(),
                &script,
            ])
            .status()
            .expect("run tmux")
            .success();
        assert!(ok, "tmux new-session failed");
        Some(Pane { socket })
    }

    /// The pane and its scrollback.
    pub fn screen(&self) -> String {
        let out = std::process::Command::new("tmux")
            .args(["-L", &self.socket, "capture-pane", "-p", "-S", "-200"])
            .output()
            .expect("capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Only what is on the screen now: the lines an admin sees without scrolling.
    pub fn visible(&self) -> String {
        let out = std::process::Command::new("tmux")
            .args(["-L", &self.socket, "capture-pane", "-p"])
            .output()
            .expect("capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Lines of the pane and its scrollback that the terminal itself broke because they were
    /// wider than the pane (tmux joins them again with `-J`): none when wrapfix broke every
    /// long line between words itself.
    pub fn hard_wrapped(&self) -> Vec<String> {
        let capture = |join: bool| {
            let mut args = vec!["-L", &self.socket, "capture-pane", "-p", "-S", "-500"];
            if join {
                args.push("-J");
            }
            let out = std::process::Command::new("tmux")
                .args(&args)
                .output()
                .expect("capture-pane");
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        let (plain, joined) = (capture(false), capture(true));
        // -J also keeps trailing spaces.
        let plain: std::collections::BTreeSet<&str> = plain.lines().map(str::trim_end).collect();
        joined
            .lines()
            .map(str::trim_end)
            .filter(|l| !plain.contains(l))
            .map(str::to_string)
            .collect()
    }

    /// Wait (at most 20 s) until the pane or its scrollback shows `text`; returns them.
    pub fn wait_for(&self, text: &str) -> String {
        self.wait_for_count(text, 1)
    }

    /// Wait until `text` is on the screen `n` times.
    pub fn wait_for_count(&self, text: &str, n: usize) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if s.matches(text).count() >= n {
                return s;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "timed out waiting for {text:?}; screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A tmux format variable of the pane (`pane_title`, `cursor_flag`).
    fn format(&self, var: &str) -> String {
        let out = std::process::Command::new("tmux")
            .args([
                "-L",
                &self.socket,
                "display-message",
                "-p",
                &format!("#{{{var}}}"),
            ])
            .output()
            .expect("display-message");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    pub fn title(&self) -> String {
        self.format("pane_title")
    }

    pub fn cursor_visible(&self) -> bool {
        self.format("cursor_flag") == "1"
    }

    /// Type keys, in tmux's send-keys notation (`Enter`, `C-d`, literal text).
    pub fn keys(&self, keys: &[&str]) {
        let status = std::process::Command::new("tmux")
            .args(["-L", &self.socket, "send-keys"])
            .args(keys)
            .status()
            .expect("send-keys");
        assert!(status.success());
    }
}

impl Drop for Pane {
    fn drop(&mut self) {
        let _ = std::process::Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .status();
    }
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}
