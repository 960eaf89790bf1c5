//! What people read: the text table, `providers`, completions and the man page.
//! Scripts read the JSON envelope, which this module never changes.

use crate::cli::{Cli, CompletionShell, OutputFormat, ProvidersArgs};
use crate::config::Env;
use crate::envelope::Envelope;
use crate::plan::ProviderName;
use crate::providers;
use clap::CommandFactory;
use std::io::Write;

/// `--output text`: an aligned table and a one-line summary.
pub fn text(env: &Envelope) -> String {
    let mut rows = vec![[
        "ID".to_string(),
        "STATUS".to_string(),
        "PROVIDER JOB".to_string(),
        "ERROR".to_string(),
    ]];
    for r in &env.results {
        rows.push([
            r.id.clone(),
            r.status.as_str().to_string(),
            r.provider_job_id.clone().unwrap_or_else(|| "-".into()),
            r.error
                .as_ref()
                .map(|e| match &e.code {
                    Some(c) => format!("{c}: {}", e.message),
                    None => e.message.clone(),
                })
                .unwrap_or_else(|| "-".into()),
        ]);
    }
    let mut widths = [0usize; 3];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row.iter()) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    if !env.results.is_empty() {
        for row in &rows {
            out.push_str(&format!(
                "{:w0$}  {:w1$}  {:w2$}  {}\n",
                row[0],
                row[1],
                row[2],
                row[3],
                w0 = widths[0],
                w1 = widths[1],
                w2 = widths[2]
            ));
        }
    }
    if let Some(e) = &env.error {
        out.push_str(&format!("error ({}): {}\n", e.kind.as_str(), e.message));
    }
    out.push_str(&format!(
        "{} {}{}: {} requested, {} succeeded, {} failed ({} ms)",
        env.provider,
        env.operation,
        if env.dry_run { " (dry run)" } else { "" },
        env.summary.requested,
        env.summary.succeeded,
        env.summary.failed,
        env.elapsed_ms
    ));
    out
}

pub fn completions(shell: CompletionShell) -> u8 {
    use clap_complete::Shell;
    let shell = match shell {
        CompletionShell::Bash => Shell::Bash,
        CompletionShell::Zsh => Shell::Zsh,
        CompletionShell::Fish => Shell::Fish,
        CompletionShell::Powershell => Shell::PowerShell,
        CompletionShell::Elvish => Shell::Elvish,
    };
    let mut cmd = Cli::command();
    clap_complete::generate(shell, &mut cmd, "cloudstop", &mut std::io::stdout());
    0
}

pub fn man() -> u8 {
    let mut buf = Vec::new();
    if clap_mangen::Man::new(Cli::command())
        .render(&mut buf)
        .is_err()
    {
        return 1;
    }
    let _ = std::io::stdout().write_all(&buf);
    0
}

pub fn providers(args: &ProvidersArgs, _env: &Env) -> u8 {
    let ops = ["job stop", "server stop", "cluster delete"];
    let table: Vec<(ProviderName, Vec<bool>)> = ProviderName::ALL
        .iter()
        .map(|p| {
            let offered = providers::operations(*p);
            (
                *p,
                ops.iter()
                    .map(|o| offered.iter().any(|x| x.verb() == *o))
                    .collect(),
            )
        })
        .collect();
    match args.output {
        OutputFormat::Json => {
            let v: Vec<serde_json::Value> = table
                .iter()
                .map(|(p, flags)| {
                    let supported: Vec<&str> = ops
                        .iter()
                        .zip(flags)
                        .filter(|(_, f)| **f)
                        .map(|(o, _)| *o)
                        .collect();
                    serde_json::json!({"provider": p.as_str(), "operations": supported})
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        }
        OutputFormat::Text => {
            println!(
                "{:10}  {:9}  {:11}  {:14}",
                "PROVIDER", "JOB STOP", "SERVER STOP", "CLUSTER DELETE"
            );
            for (p, flags) in &table {
                let m = |b: bool| if b { "yes" } else { "-" };
                println!(
                    "{:10}  {:9}  {:11}  {:14}",
                    p.as_str(),
                    m(flags[0]),
                    m(flags[1]),
                    m(flags[2])
                );
            }
        }
    }
    0
}
