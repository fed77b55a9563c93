use clap::Parser;

fn main() {
    let cli = wrapfix::cli::Cli::parse();
    let code = match wrapfix::run(cli) {
        Ok(code) => code,
        Err(wrapfix::error::Error::Read { source, .. })
            if source.kind() == std::io::ErrorKind::BrokenPipe =>
        {
            0
        }
        Err(e) => {
            eprintln!("wrapfix: {e}");
            e.exit_code()
        }
    };
    std::process::exit(code);
}
