//! `sj-console user add|list|remove`: the console's accounts, managed on the server.

use std::io::{BufRead as _, IsTerminal as _};

use crate::crypto;
use crate::db::{Db, Role};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Add a user. The password is asked for (not shown) on a terminal; otherwise it is the
    /// first line of standard input. At least 10 characters.
    Add {
        /// The name they sign in with (letters, digits, `.`, `_`, `-`, `@`).
        name: String,
        /// viewer (reads every page), reviewer (and approves and replays), admin (and manages
        /// users and the Jobber connection).
        #[arg(long, value_parser = parse_role)]
        role: Role,
    },
    /// List the users and their roles.
    List,
    /// Remove a user; their sessions end at once.
    Remove { name: String },
}

fn parse_role(text: &str) -> Result<Role, String> {
    Role::parse(text).ok_or_else(|| format!("{text:?} is not a role: viewer, reviewer or admin"))
}

/// Whether a user name is acceptable.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if ok {
        Ok(())
    } else {
        Err(format!("{name:?} is not a user name: 1 to 64 letters, digits, '.', '_', '-' or '@'"))
    }
}

/// Who ran the command, for the audit.
fn operator() -> String {
    format!("cli:{}", std::env::var("USER").unwrap_or_else(|_| "unknown".to_owned()))
}

pub fn run(db: &Db, command: &Command) -> Result<String, String> {
    match command {
        Command::Add { name, role } => {
            check_name(name)?;
            if db.user_with_hash(name).map_err(|e| e.to_string())?.is_some() {
                return Err(format!("user {name} already exists (remove it first to change it)"));
            }
            let password = read_password(name)?;
            crypto::check_password_rules(&password)?;
            db.add_user(name, *role, &crypto::hash_password(&password)).map_err(|e| e.to_string())?;
            db.audit(&operator(), "user.add", &format!("{name} ({})", role.as_str()))
                .map_err(|e| e.to_string())?;
            Ok(format!("added {name} ({})", role.as_str()))
        }
        Command::List => {
            let users = db.users().map_err(|e| e.to_string())?;
            if users.is_empty() {
                return Ok("no users yet: sj-console user add NAME --role admin".to_owned());
            }
            let lines: Vec<String> = users
                .iter()
                .map(|u| {
                    let since =
                        std::time::UNIX_EPOCH + std::time::Duration::from_secs(u.created_at.max(0) as u64);
                    format!(
                        "{:<24} {:<8} added {}",
                        u.name,
                        u.role.as_str(),
                        humantime::format_rfc3339_seconds(since)
                    )
                })
                .collect();
            Ok(lines.join("\n"))
        }
        Command::Remove { name } => {
            if !db.remove_user(name).map_err(|e| e.to_string())? {
                return Err(format!("no user {name}"));
            }
            db.audit(&operator(), "user.remove", name).map_err(|e| e.to_string())?;
            Ok(format!("removed {name}"))
        }
    }
}

/// The password: asked twice without echo on a terminal, else one line of standard input.
fn read_password(name: &str) -> Result<String, String> {
    if std::io::stdin().is_terminal() {
        let first =
            rpassword::prompt_password(format!("Password for {name}: ")).map_err(|e| e.to_string())?;
        crypto::check_password_rules(&first)?;
        let again = rpassword::prompt_password("Again: ").map_err(|e| e.to_string())?;
        if first != again {
            return Err("the two passwords differ".to_owned());
        }
        Ok(first)
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).map_err(|e| format!("reading the password: {e}"))?;
        Ok(line.trim_end_matches(['\n', '\r']).to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_plain() {
        assert!(check_name("ann.lee@dealer").is_ok());
        assert!(check_name("").is_err());
        assert!(check_name("ann lee").is_err());
        assert!(check_name("<b>").is_err());
    }
}
