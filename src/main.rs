use clap::Parser;

fn main() {
    let cli = wrapfix::cli::Cli::parse();
    let code = match wrapfix::run(cli) {
        Ok(end) => end.code(),
        Err(e) => {
            // Escaped: error messages name paths and link targets from the repaired disk.
            wrapfix::report::term::say(&e.to_string());
            e.exit().code()
        }
    };
    std::process::exit(code);
}
