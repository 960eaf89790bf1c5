//! Where settings and credentials come from: the environment, the cloudstop TOML
//! profile file, and the providers' own CLI/SDK files. Each provider states its
//! variable names and file formats; this module owns the order (SPEC "Credentials")
//! and the [`Secret`] type that never prints its value.

use crate::error::Error;
use crate::plan::quote;
use secrecy::{ExposeSecret, SecretString};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

/// A secret value (secret key, session token). `Debug` and `Display` print `[redacted]`.
#[derive(Clone)]
pub struct Secret(SecretString);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(SecretString::from(value.into()))
    }

    /// The value itself, for signing only.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// A snapshot of the process environment, read once. Empty values count as unset.
#[derive(Clone, Default)]
pub struct Env {
    vars: HashMap<String, String>,
}

impl fmt::Debug for Env {
    // The environment holds secrets: show only the names.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<_> = self.vars.keys().collect();
        names.sort();
        f.debug_struct("Env").field("names", &names).finish()
    }
}

impl Env {
    pub fn from_process() -> Self {
        Env {
            vars: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
        }
    }

    #[cfg(test)]
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Self {
        Env {
            vars: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    /// The variable's value, `None` when unset or empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// The user's home directory (`HOME`, or `USERPROFILE` on Windows).
    pub fn home(&self) -> Option<PathBuf> {
        self.get("HOME")
            .or_else(|| self.get("USERPROFILE"))
            .map(PathBuf::from)
    }

    /// The config file was named by `CLOUDSTOP_CONFIG`: it must exist.
    pub fn config_path_explicit(&self) -> bool {
        self.get("CLOUDSTOP_CONFIG").is_some()
    }

    /// `$CLOUDSTOP_CONFIG`, else `$XDG_CONFIG_HOME/cloudstop/config.toml`, else
    /// `~/.config/cloudstop/config.toml`.
    pub fn config_path(&self) -> Option<PathBuf> {
        if let Some(p) = self.get("CLOUDSTOP_CONFIG") {
            return Some(PathBuf::from(p));
        }
        if let Some(x) = self.get("XDG_CONFIG_HOME") {
            return Some(Path::new(x).join("cloudstop").join("config.toml"));
        }
        self.home()
            .map(|h| h.join(".config").join("cloudstop").join("config.toml"))
    }
}

/// `text` without a leading UTF-8 byte-order mark (U+FEFF), which Notepad and
/// PowerShell put at the start of a file and no parser here expects.
pub fn strip_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

/// A text file's bytes as a string: UTF-8 with or without a byte-order mark, or UTF-16
/// with one (PowerShell 5's `Out-File` and `>`). The mark is dropped. `Err` holds the
/// 1-based line of the first byte that is not UTF-8.
pub fn decode_text(bytes: Vec<u8>) -> Result<String, usize> {
    let utf16 = |be: bool| {
        let units: Vec<u16> = bytes[2..]
            .chunks(2)
            .map(|c| {
                let pair = [c[0], *c.get(1).unwrap_or(&0)];
                if be {
                    u16::from_be_bytes(pair)
                } else {
                    u16::from_le_bytes(pair)
                }
            })
            .collect();
        String::from_utf16(&units).map_err(|_| 1usize)
    };
    match bytes.as_slice() {
        [0xFF, 0xFE, ..] => utf16(false),
        [0xFE, 0xFF, ..] => utf16(true),
        _ => match String::from_utf8(bytes) {
            Ok(s) => Ok(match s.strip_prefix('\u{feff}') {
                Some(rest) => rest.to_string(),
                None => s,
            }),
            Err(e) => {
                let at = e.utf8_error().valid_up_to();
                Err(e.as_bytes()[..at].iter().filter(|b| **b == b'\n').count() + 1)
            }
        },
    }
}

/// Reads a text file (config, credentials) as [`decode_text`] decodes it; a file that
/// is not text is an `InvalidData` error naming the line.
pub fn read_text(path: &Path) -> std::io::Result<String> {
    decode_text(std::fs::read(path)?).map_err(|line| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("not UTF-8 text (line {line})"),
        )
    })
}

/// One provider's section of one profile: `[profiles.<name>.<provider>]`.
pub type Section = toml::Table;

/// The cloudstop TOML file, validated.
#[derive(Debug, Default)]
pub struct ConfigFile {
    pub path: Option<PathBuf>,
    profiles: BTreeMap<String, BTreeMap<String, Section>>,
}

/// Keys whose values are secrets: a file holding one must not be readable by others.
fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    k.contains("secret") || k.contains("token") || k == "sk" || k.contains("password")
}

impl ConfigFile {
    /// The config file of `env`: `CLOUDSTOP_CONFIG` (which must exist) or the default
    /// path (a missing file there is an empty config).
    pub fn load_for(env: &Env, providers: &[&str]) -> Result<ConfigFile, Error> {
        Self::load(env.config_path(), env.config_path_explicit(), providers)
    }

    /// Loads the file at `path`; a missing file is an empty config, unless `explicit`
    /// (named by `CLOUDSTOP_CONFIG`): then it is a config error. `providers` are the
    /// section names that may appear under a profile.
    pub fn load(
        path: Option<PathBuf>,
        explicit: bool,
        providers: &[&str],
    ) -> Result<ConfigFile, Error> {
        let Some(path) = path else {
            return Ok(ConfigFile::default());
        };
        let text = match read_text(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && explicit => {
                return Err(Error::config(format!(
                    "config file {} (CLOUDSTOP_CONFIG) does not exist",
                    path.display()
                )))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(ConfigFile {
                    path: Some(path),
                    ..Default::default()
                })
            }
            Err(e) => {
                return Err(Error::config(format!(
                    "cannot read config file {}: {e}",
                    path.display()
                )))
            }
        };
        let cfg = Self::parse(&text, &path, providers)?;
        if cfg.holds_secret() {
            check_private(&path)?;
        }
        Ok(cfg)
    }

    fn parse(text: &str, path: &Path, providers: &[&str]) -> Result<ConfigFile, Error> {
        let bad =
            |msg: String| Error::config(format!("invalid config file {}: {msg}", path.display()));
        let root: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| bad(e.message().to_string()))?;
        let mut profiles = BTreeMap::new();
        for (key, value) in root {
            if key != "profiles" {
                return Err(bad(format!(
                    "unknown key {} (expected [profiles.<name>.<provider>])",
                    quote(&key)
                )));
            }
            let toml::Value::Table(names) = value else {
                return Err(bad("'profiles' must be a table".into()));
            };
            for (name, value) in names {
                let toml::Value::Table(sections) = value else {
                    return Err(bad(format!("profile {} must be a table", quote(&name))));
                };
                let mut by_provider = BTreeMap::new();
                for (provider, section) in sections {
                    if !providers.contains(&provider.as_str()) {
                        return Err(bad(format!(
                            "unknown provider {} in profile {} (expected one of: {})",
                            quote(&provider),
                            quote(&name),
                            providers.join(", ")
                        )));
                    }
                    let toml::Value::Table(section) = section else {
                        return Err(bad(format!("[profiles.{name}.{provider}] must be a table")));
                    };
                    by_provider.insert(provider, section);
                }
                profiles.insert(name, by_provider);
            }
        }
        Ok(ConfigFile {
            path: Some(path.to_path_buf()),
            profiles,
        })
    }

    fn holds_secret(&self) -> bool {
        self.profiles
            .values()
            .flat_map(|p| p.values())
            .flat_map(|s| s.keys())
            .any(|k| is_secret_key(k))
    }

    /// The names of the profiles with a `[profiles.<name>.<provider>]` section.
    pub fn profiles_with(&self, provider: &str) -> Vec<String> {
        self.profiles
            .iter()
            .filter(|(_, p)| p.contains_key(provider))
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// The `[profiles.<profile>.<provider>]` section, if present.
    pub fn section(&self, profile: &str, provider: &str) -> Option<&Section> {
        self.profiles.get(profile)?.get(provider)
    }

    pub fn display_path(&self) -> String {
        self.path
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "~/.config/cloudstop/config.toml".into())
    }
}

#[cfg(unix)]
fn check_private(path: &Path) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path)
        .map_err(|e| Error::config(format!("cannot stat config file {}: {e}", path.display())))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(Error::config(format!(
            "config file {} holds secrets and is readable by others (mode {mode:03o}); run: chmod 600 {}",
            path.display(),
            path.display()
        )));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_path: &Path) -> Result<(), Error> {
    Ok(())
}

/// Reads the typed, known keys of a provider section: unknown keys are a config error.
pub struct SectionReader<'a> {
    section: Option<&'a Section>,
    label: String,
}

impl<'a> SectionReader<'a> {
    /// `known` lists every key the provider accepts in its section.
    pub fn new(
        cfg: &'a ConfigFile,
        profile: &str,
        provider: &str,
        known: &[&str],
    ) -> Result<SectionReader<'a>, Error> {
        let section = cfg.section(profile, provider);
        let label = format!("[profiles.{profile}.{provider}] in {}", cfg.display_path());
        if let Some(s) = section {
            for (k, v) in s {
                if !known.contains(&k.as_str()) {
                    return Err(Error::config(format!(
                        "unknown key {} in {label} (expected one of: {})",
                        quote(k),
                        known.join(", ")
                    )));
                }
                if !v.is_str() {
                    return Err(Error::config(format!(
                        "{} in {label} must be a string",
                        quote(k)
                    )));
                }
            }
        }
        Ok(SectionReader { section, label })
    }

    pub fn get(&self, key: &str) -> Option<&'a str> {
        self.section?.get(key)?.as_str().filter(|v| !v.is_empty())
    }

    pub fn label(&self) -> &str {
        &self.label
    }
}

/// Refuses a key with surrounding blanks, as the official SDKs do: a copy-paste slip
/// that would otherwise surface as a signature mismatch.
pub fn check_key(value: &str, what: &str) -> Result<(), Error> {
    if value.trim() != value {
        return Err(Error::config(format!(
            "{what} has leading or trailing whitespace"
        )));
    }
    Ok(())
}

/// A key id and its secret from one source: both (checked for blanks), neither, or a
/// config error naming the half that is missing. `place` says where, e.g.
/// `" in [profiles.default.tencent] in ~/.config/cloudstop/config.toml"` (or `""`).
pub fn key_pair<'a>(
    id: Option<&'a str>,
    secret: Option<&'a str>,
    id_name: &str,
    secret_name: &str,
    place: &str,
) -> Result<Option<(&'a str, &'a str)>, Error> {
    match (id, secret) {
        (Some(i), Some(k)) => {
            check_key(i, id_name)?;
            check_key(k, secret_name)?;
            Ok(Some((i, k)))
        }
        (Some(_), None) => Err(Error::config(format!(
            "{id_name} is set{place} but {secret_name} is not"
        ))),
        (None, Some(_)) => Err(Error::config(format!(
            "{secret_name} is set{place} but {id_name} is not"
        ))),
        (None, None) => Ok(None),
    }
}

/// A value and where it was found (named in `-v` logs, never the value itself when secret).
#[derive(Debug, Clone)]
pub struct Found<T> {
    pub value: T,
    pub source: String,
}

/// A profile named explicitly (`--profile` or `CLOUDSTOP_PROFILE`) must exist, for this
/// provider: in the config file (`[profiles.<name>.<provider>]`) or among the
/// provider's own profiles (`elsewhere`, e.g. tccli's; listed only when needed).
/// Otherwise the run would quietly use other credentials than the ones asked for:
/// exit 3, naming the profiles that do exist.
pub fn check_profile_exists(
    plan: &crate::plan::Plan,
    cfg: &ConfigFile,
    provider: &str,
    elsewhere: impl FnOnce() -> Vec<(String, String)>,
) -> Result<(), Error> {
    if !plan.profile_named || cfg.section(&plan.profile, provider).is_some() {
        return Ok(());
    }
    let others = elsewhere();
    if others.iter().any(|(name, _)| *name == plan.profile) {
        return Ok(());
    }
    let how = if plan.explicit_profile {
        "--profile"
    } else {
        "CLOUDSTOP_PROFILE"
    };
    let mut known: Vec<String> = cfg
        .profiles_with(provider)
        .into_iter()
        .map(|n| format!("{n} ({})", cfg.display_path()))
        .collect();
    known.extend(
        others
            .into_iter()
            .map(|(n, place)| format!("{n} ({place})")),
    );
    let in_other = cfg.profiles.get(&plan.profile).map(|p| {
        format!(
            " (it has settings for {} only)",
            p.keys().cloned().collect::<Vec<_>>().join(", ")
        )
    });
    Err(Error::config(format!(
        "profile {} ({how}) not found for {provider}{}: no [profiles.{}.{provider}] in {}, nor a {provider} CLI/SDK profile of that name; {}; nothing was sent",
        crate::plan::quote(&plan.profile),
        in_other.unwrap_or_default(),
        plan.profile,
        cfg.display_path(),
        if known.is_empty() {
            format!("no profile has {provider} settings")
        } else {
            format!("profiles with {provider} settings: {}", known.join(", "))
        }
    )))
}

/// One setting (region, zone, project id, endpoint) in SPEC's order: the command-line
/// flag; then the environment (`env`, first set wins) before the profile, or — with an
/// explicit `--profile`, which wins as a whole — the profile before the environment.
/// The providers' own files come after, read by the caller only when this is `None`.
pub fn layered<'a>(
    explicit_profile: bool,
    flag: Option<&'a str>,
    env: &[Option<&'a str>],
    profile: Option<&'a str>,
) -> Option<&'a str> {
    let from_env = || env.iter().flatten().next().copied();
    flag.or_else(|| {
        if explicit_profile {
            profile.or_else(from_env)
        } else {
            from_env().or(profile)
        }
    })
}

/// SPEC's order for credentials: the environment, then the profile; a `--profile`
/// given on the command line puts the profile first. The providers' own files come last.
pub fn in_order<T>(
    explicit_profile: bool,
    env: impl FnOnce() -> Result<Option<Found<T>>, Error>,
    profile: impl FnOnce() -> Result<Option<Found<T>>, Error>,
    files: impl FnOnce() -> Result<Option<Found<T>>, Error>,
) -> Result<Option<Found<T>>, Error> {
    if explicit_profile {
        if let Some(f) = profile()? {
            return Ok(Some(f));
        }
        if let Some(f) = env()? {
            return Ok(Some(f));
        }
    } else {
        if let Some(f) = env()? {
            return Ok(Some(f));
        }
        if let Some(f) = profile()? {
            return Ok(Some(f));
        }
    }
    files()
}

/// Reads an INI file's section (SDK credential files). `None` when the file or the
/// section does not exist.
pub fn read_ini_section(
    path: &Path,
    section: &str,
) -> Result<Option<HashMap<String, String>>, Error> {
    let text = match read_text(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Error::config(format!(
                "cannot read {}: {e}",
                path.display()
            )));
        }
    };
    let ini = ini::Ini::load_from_str(&text)
        .map_err(|e| Error::config(format!("invalid INI file {}: {e}", path.display())))?;
    Ok(ini.section(Some(section)).map(|props| {
        props
            .iter()
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect()
    }))
}

/// Reads a JSON file (tccli profiles). `None` when it does not exist.
pub fn read_json_file(path: &Path) -> Result<Option<serde_json::Value>, Error> {
    match read_text(path) {
        Ok(t) => serde_json::from_str(&t)
            .map(Some)
            .map_err(|e| Error::config(format!("invalid JSON in {}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::config(format!(
            "cannot read {}: {e}",
            path.display()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_prints() {
        let s = Secret::new("hunter2-secret");
        assert_eq!(format!("{s:?}"), "[redacted]");
        assert_eq!(format!("{s}"), "[redacted]");
        assert_eq!(s.expose(), "hunter2-secret");
    }

    #[test]
    fn env_debug_shows_names_only() {
        let env = Env::from_pairs(&[("TENCENTCLOUD_SECRET_KEY", "topsecret")]);
        let dbg = format!("{env:?}");
        assert!(dbg.contains("TENCENTCLOUD_SECRET_KEY"));
        assert!(!dbg.contains("topsecret"));
    }

    #[test]
    fn config_rejects_unknown_provider_and_keys() {
        let p = Path::new("/x/config.toml");
        let e =
            ConfigFile::parse("[profiles.default.aws]\nkey='x'\n", p, &["tencent"]).unwrap_err();
        assert!(
            e.message.contains("unknown provider 'aws'"),
            "{}",
            e.message
        );
        let e = ConfigFile::parse("foo = 1\n", p, &["tencent"]).unwrap_err();
        assert!(e.message.contains("unknown key 'foo'"));
        let e = ConfigFile::parse("[profiles\n", p, &["tencent"]).unwrap_err();
        assert!(e.message.contains("invalid config file"));
        let e = ConfigFile::load(
            Some("/nonexistent/cloudstop.toml".into()),
            true,
            &["tencent"],
        )
        .unwrap_err();
        assert!(e.message.contains("does not exist"), "{}", e.message);
        assert!(ConfigFile::load(
            Some("/nonexistent/cloudstop.toml".into()),
            false,
            &["tencent"]
        )
        .is_ok());
        let cfg = ConfigFile::parse(
            "[profiles.default.tencent]\nsecret_id='a'\nbogus='b'\n",
            p,
            &["tencent"],
        )
        .unwrap();
        let e = SectionReader::new(&cfg, "default", "tencent", &["secret_id"])
            .err()
            .unwrap();
        assert!(e.message.contains("unknown key 'bogus'"));
    }

    #[test]
    fn text_files_lose_their_byte_order_mark() {
        assert_eq!(strip_bom("\u{feff}a\u{feff}"), "a\u{feff}");
        assert_eq!(decode_text(b"\xEF\xBB\xBFid\n".to_vec()).unwrap(), "id\n");
        assert_eq!(decode_text(b"plain".to_vec()).unwrap(), "plain");
        let le: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain("a\nb".encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        assert_eq!(decode_text(le).unwrap(), "a\nb");
        let be: Vec<u8> = [0xFE, 0xFF]
            .into_iter()
            .chain("é".encode_utf16().flat_map(u16::to_be_bytes))
            .collect();
        assert_eq!(decode_text(be).unwrap(), "é");
        assert_eq!(decode_text(b"ok\nok\n\xC3(".to_vec()), Err(3));

        let dir = tempfile::tempdir().unwrap();
        let toml_path = dir.path().join("config.toml");
        std::fs::write(
            &toml_path,
            "\u{feff}[profiles.default.tencent]\nregion = 'ap-guangzhou'\n",
        )
        .unwrap();
        let cfg = ConfigFile::load(Some(toml_path), false, &["tencent"]).unwrap();
        assert!(cfg.section("default", "tencent").is_some());
        let ini_path = dir.path().join("credentials");
        std::fs::write(&ini_path, "\u{feff}[default]\nak = x\n").unwrap();
        let section = read_ini_section(&ini_path, "default").unwrap().unwrap();
        assert_eq!(section["ak"], "x");
        let json_path = dir.path().join("p.configure");
        std::fs::write(&json_path, "\u{feff}{\"a\": 1}").unwrap();
        assert_eq!(read_json_file(&json_path).unwrap().unwrap()["a"], 1);
    }

    #[test]
    fn key_pairs_are_both_or_neither() {
        assert_eq!(
            key_pair(Some("a"), Some("b"), "ID", "KEY", "").unwrap(),
            Some(("a", "b"))
        );
        assert_eq!(key_pair(None, None, "ID", "KEY", "").unwrap(), None);
        let e = key_pair(Some("a"), None, "ID", "KEY", " in x").unwrap_err();
        assert_eq!(e.message, "ID is set in x but KEY is not");
        assert_eq!(e.kind, crate::error::ErrorKind::Config);
        let e = key_pair(Some("a"), Some(" b"), "ID", "KEY", "").unwrap_err();
        assert!(e.message.contains("KEY has leading or trailing whitespace"));
    }

    #[test]
    fn layered_settings() {
        let (flag, env, prof) = (Some("flag"), Some("env"), Some("prof"));
        assert_eq!(layered(false, flag, &[env], prof), Some("flag"));
        assert_eq!(layered(true, flag, &[env], prof), Some("flag"));
        assert_eq!(layered(false, None, &[None, env], prof), Some("env"));
        assert_eq!(layered(true, None, &[env], prof), Some("prof"));
        assert_eq!(layered(true, None, &[env], None), Some("env"));
        assert_eq!(layered(false, None, &[None], None), None);
    }

    #[test]
    fn order_puts_explicit_profile_first() {
        let env = || {
            Ok(Some(Found {
                value: 1,
                source: "env".into(),
            }))
        };
        let prof = || {
            Ok(Some(Found {
                value: 2,
                source: "profile".into(),
            }))
        };
        let none = || Ok(None);
        assert_eq!(in_order(false, env, prof, none).unwrap().unwrap().value, 1);
        assert_eq!(in_order(true, env, prof, none).unwrap().unwrap().value, 2);
    }

    #[test]
    fn the_process_environment_is_read() {
        // PATH is set for every test run; the default Env would hold nothing.
        assert!(Env::from_process().get("PATH").is_some());
    }

    #[test]
    fn config_path_follows_cloudstop_config_then_xdg_then_home() {
        let path = |pairs: &[(&str, &str)]| Env::from_pairs(pairs).config_path();
        assert_eq!(
            path(&[
                ("CLOUDSTOP_CONFIG", "/c.toml"),
                ("XDG_CONFIG_HOME", "/x"),
                ("HOME", "/h")
            ]),
            Some(PathBuf::from("/c.toml"))
        );
        assert_eq!(
            path(&[("XDG_CONFIG_HOME", "/x"), ("HOME", "/h")]),
            Some(Path::new("/x").join("cloudstop").join("config.toml"))
        );
        assert_eq!(
            path(&[("HOME", "/h"), ("USERPROFILE", "/u")]),
            Some(Path::new("/h").join(".config/cloudstop/config.toml"))
        );
        assert_eq!(
            path(&[("HOME", ""), ("USERPROFILE", "/u")]),
            Some(Path::new("/u").join(".config/cloudstop/config.toml"))
        );
        assert_eq!(path(&[]), None);
        assert_eq!(
            Env::from_pairs(&[("HOME", "/h")]).home(),
            Some(PathBuf::from("/h"))
        );
        assert!(Env::from_pairs(&[("CLOUDSTOP_CONFIG", "/c.toml")]).config_path_explicit());
        assert!(
            !Env::from_pairs(&[("CLOUDSTOP_CONFIG", ""), ("HOME", "/h")]).config_path_explicit()
        );
    }

    #[test]
    fn secret_keys_are_recognised_by_name() {
        for k in [
            "secret_key",
            "SecretId_secret",
            "session_token",
            "TOKEN",
            "sk",
            "SK",
            "password",
        ] {
            assert!(is_secret_key(k), "{k}");
        }
        for k in ["secret_id", "ak", "region", "skip", "access_key_id"] {
            assert_eq!(is_secret_key(k), k.contains("secret"), "{k}");
        }
    }

    #[test]
    fn a_missing_file_is_empty_unless_named_by_cloudstop_config() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("none.toml");
        let e = ConfigFile::load(Some(missing.clone()), true, &["tencent"]).unwrap_err();
        assert_eq!(e.kind, crate::error::ErrorKind::Config);
        assert!(e.message.contains("does not exist"), "{}", e.message);
        let cfg = ConfigFile::load(Some(missing.clone()), false, &["tencent"]).unwrap();
        assert_eq!(cfg.path.as_deref(), Some(missing.as_path()));
        assert_eq!(cfg.display_path(), missing.display().to_string());
        assert!(cfg.profiles_with("tencent").is_empty());
        assert_eq!(
            ConfigFile::default().display_path(),
            "~/.config/cloudstop/config.toml"
        );
        let env = Env::from_pairs(&[("CLOUDSTOP_CONFIG", missing.to_str().unwrap())]);
        assert!(ConfigFile::load_for(&env, &["tencent"]).is_err());
        // A file that exists but cannot be read is an error, never an empty config.
        let e = ConfigFile::load(Some(dir.path().to_path_buf()), false, &["tencent"]).unwrap_err();
        assert!(
            e.message.contains("cannot read config file"),
            "{}",
            e.message
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_file_with_secrets_must_be_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        let secret = "[profiles.default.tencent]\nsecret_id = 'AKID'\nsecret_key = 'k'\n";
        let plain = "[profiles.ci.tencent]\nregion = 'ap-guangzhou'\n";
        for (text, mode, ok) in [
            (secret, 0o600, true),
            (secret, 0o400, true),
            (secret, 0o640, false),
            (secret, 0o604, false),
            (secret, 0o644, false),
            (plain, 0o644, true),
        ] {
            let _ = std::fs::remove_file(&path);
            std::fs::write(&path, text).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            let got = ConfigFile::load(Some(path.clone()), true, &["tencent"]);
            match got {
                Ok(cfg) => {
                    assert!(ok, "mode {mode:o} accepted");
                    assert_eq!(cfg.path.as_deref(), Some(path.as_path()));
                }
                Err(e) => {
                    assert!(!ok, "mode {mode:o} refused: {}", e.message);
                    assert!(e.message.contains("chmod 600"), "{}", e.message);
                    assert!(e.message.contains(&format!("{mode:03o}")), "{}", e.message);
                }
            }
        }
    }

    #[test]
    fn profiles_and_sections_read_back() {
        let p = Path::new("/x/config.toml");
        let cfg = ConfigFile::parse(
            "[profiles.a.tencent]\nregion = 'r1'\nzone = ''\n[profiles.b.huawei]\nregion = 'r2'\n[profiles.c.tencent]\n",
            p,
            &["tencent", "huawei"],
        )
        .unwrap();
        assert_eq!(
            cfg.profiles_with("tencent"),
            vec!["a".to_string(), "c".to_string()]
        );
        assert_eq!(cfg.profiles_with("huawei"), vec!["b".to_string()]);
        assert_eq!(cfg.display_path(), "/x/config.toml");
        let r = SectionReader::new(&cfg, "a", "tencent", &["region", "zone"]).unwrap();
        assert_eq!(r.get("region"), Some("r1"));
        assert_eq!(r.get("zone"), None, "an empty value is unset");
        assert_eq!(r.get("other"), None);
        assert_eq!(r.label(), "[profiles.a.tencent] in /x/config.toml");
        let none = SectionReader::new(&cfg, "zzz", "tencent", &["region"]).unwrap();
        assert_eq!(none.get("region"), None);
    }

    #[test]
    fn sdk_files_that_do_not_exist_are_none_and_unreadable_ones_errors() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("none");
        assert_eq!(read_ini_section(&missing, "default").unwrap(), None);
        assert_eq!(read_json_file(&missing).unwrap(), None);
        // A directory exists but cannot be read as a file: a config error, not "absent".
        assert!(read_ini_section(dir.path(), "default").is_err());
        assert!(read_json_file(dir.path()).is_err());
        let ini = dir.path().join("credentials");
        std::fs::write(&ini, "[default]\n ak = AK1 \nsk=SK1\n[other]\nak=AK2\n").unwrap();
        let got = read_ini_section(&ini, "default").unwrap().unwrap();
        assert_eq!(got.get("ak").map(String::as_str), Some("AK1"));
        assert_eq!(got.get("sk").map(String::as_str), Some("SK1"));
        assert_eq!(read_ini_section(&ini, "nope").unwrap(), None);
        let json = dir.path().join("default.credential");
        std::fs::write(&json, r#"{"secretId":"AKID"}"#).unwrap();
        assert_eq!(read_json_file(&json).unwrap().unwrap()["secretId"], "AKID");
        std::fs::write(&json, "{not json").unwrap();
        assert!(read_json_file(&json).is_err());
    }

    #[test]
    fn a_named_profile_must_exist_for_the_provider() {
        use clap::Parser;
        let plan = |extra: &str, env: &[(&str, &str)]| {
            let line = format!("cloudstop job stop -p tencent --job-id job-aaaaaaaa {extra}");
            let cli = crate::cli::Cli::try_parse_from(line.split_whitespace()).unwrap();
            crate::plan::Plan::build(cli.command, &Env::from_pairs(env), &mut std::io::empty())
                .unwrap()
        };
        let cfg = ConfigFile::parse(
            "[profiles.prod.tencent]\nregion = 'r'\n[profiles.hw.huawei]\nregion = 'r'\n",
            Path::new("/x/config.toml"),
            &["tencent", "huawei"],
        )
        .unwrap();
        let none = Vec::new;
        // No profile named: the default profile need not exist.
        check_profile_exists(&plan("", &[]), &cfg, "tencent", none).unwrap();
        check_profile_exists(&plan("--profile prod", &[]), &cfg, "tencent", none).unwrap();
        let tccli = || vec![("ci".to_string(), "~/.tccli/ci.credential".to_string())];
        check_profile_exists(&plan("--profile ci", &[]), &cfg, "tencent", tccli).unwrap();
        let e =
            check_profile_exists(&plan("--profile hw", &[]), &cfg, "tencent", tccli).unwrap_err();
        assert_eq!(e.kind, crate::error::ErrorKind::Config);
        for part in [
            "profile 'hw' (--profile) not found for tencent",
            "(it has settings for huawei only)",
            "profiles with tencent settings: prod (/x/config.toml), ci (~/.tccli/ci.credential)",
        ] {
            assert!(e.message.contains(part), "{part}: {}", e.message);
        }
        let e = check_profile_exists(
            &plan("", &[("CLOUDSTOP_PROFILE", "gone")]),
            &cfg,
            "tencent",
            none,
        )
        .unwrap_err();
        assert!(
            e.message.contains("'gone' (CLOUDSTOP_PROFILE)"),
            "{}",
            e.message
        );
        let e = check_profile_exists(
            &plan("--profile gone", &[]),
            &ConfigFile::default(),
            "tencent",
            none,
        )
        .unwrap_err();
        assert!(
            e.message.contains("no profile has tencent settings"),
            "{}",
            e.message
        );
    }
}
