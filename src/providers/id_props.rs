//! Every provider's id check, through the real path (`Plan::build` then
//! `providers::validate`), on ids of the right shape and on ids one character away
//! from it: the near misses are what a random string never generates.

use crate::cli::Cli;
use crate::config::Env;
use crate::error::ErrorKind;
use crate::plan::Plan;
use clap::Parser;
use proptest::prelude::*;

/// `(command line before the id, the id's flag, a strategy for valid ids, the characters
/// a valid id may hold after its prefix)`.
struct Case {
    args: &'static str,
    flag: &'static str,
    prefix: &'static str,
    body: &'static str,
    /// Characters allowed in the body.
    allowed: fn(char) -> bool,
}

fn lower_alnum(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

fn lower_hex_or_dash(c: char) -> bool {
    c.is_ascii_digit() || ('a'..='f').contains(&c) || c == '-'
}

const CASES: &[Case] = &[
    Case {
        args: "job stop -p tencent --region ap-guangzhou",
        flag: "--job-id",
        prefix: "job-",
        body: "[a-z0-9]{8}",
        allowed: lower_alnum,
    },
    Case {
        args: "server stop -p tencent --region ap-guangzhou",
        flag: "--server-id",
        prefix: "ins-",
        body: "[a-z0-9]{8}",
        allowed: lower_alnum,
    },
    Case {
        args: "job stop -p qingcloud --zone jn1a --cluster-id ehpc-8jqdq0mz",
        flag: "--job-id",
        prefix: "hpcjob-",
        body: "[a-z0-9]{8}",
        allowed: lower_alnum,
    },
    Case {
        args: "cluster delete -p qingcloud --zone jn1a --run-user usr-IuZxPyn2",
        flag: "--cluster-id",
        prefix: "hpc-",
        body: "[a-z0-9]{8}",
        allowed: lower_alnum,
    },
    Case {
        args: "server stop -p qingcloud --zone pek3a",
        flag: "--server-id",
        prefix: "i-",
        body: "[a-z0-9]{8}",
        allowed: lower_alnum,
    },
    Case {
        args: "server stop -p huawei --region cn-north-4",
        flag: "--server-id",
        prefix: "",
        body: "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        allowed: lower_hex_or_dash,
    },
];

/// Usage error or not, for one id on the command line of `case`.
fn refused(case: &Case, id: &str) -> bool {
    let mut argv: Vec<String> = std::iter::once("cloudstop".to_string())
        .chain(case.args.split_whitespace().map(String::from))
        .collect();
    argv.push(format!("{}={id}", case.flag));
    let Ok(cli) = Cli::try_parse_from(&argv) else {
        return true;
    };
    match Plan::build(cli.command, &Env::default(), &mut std::io::empty()) {
        Err(e) => {
            assert_eq!(e.kind, ErrorKind::Usage, "{id:?}: {}", e.message);
            true
        }
        Ok(plan) => match crate::providers::validate(&plan) {
            Err(e) => {
                assert_eq!(e.kind, ErrorKind::Usage, "{id:?}: {}", e.message);
                true
            }
            Ok(()) => false,
        },
    }
}

/// A character the body must not hold: upper case, punctuation, space, non-ASCII,
/// control characters.
fn foreign() -> impl Strategy<Value = char> {
    prop_oneof![
        // Upper case of an allowed letter: the near miss a copy-paste produces.
        4 => proptest::char::range('A', 'F'),
        1 => proptest::char::range('A', 'Z'),
        1 => Just('_'),
        1 => Just(' '),
        1 => Just('\''),
        1 => Just(';'),
        1 => Just('é'),
        1 => Just('\u{0}'),
        1 => Just('\n'),
        1 => proptest::char::range('g', 'z'),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn valid_ids_pass_and_near_misses_are_refused(
        (which, body) in (0..CASES.len()).prop_flat_map(|w| {
            (Just(w), proptest::string::string_regex(CASES[w].body).unwrap())
        }),
        bad in foreign(),
        pos in any::<prop::sample::Index>(),
        edit in 0..3u8,
    ) {
        let case = &CASES[which];
        let id = format!("{}{body}", case.prefix);
        prop_assert!(!refused(case, &id), "valid id refused: {id:?}");

        let mut chars: Vec<char> = body.chars().collect();
        let i = pos.index(chars.len());
        match edit {
            // One character replaced by one the body must not hold.
            0 if !(case.allowed)(bad) => chars[i] = bad,
            // One character too many, or too few.
            0 | 1 => chars.insert(i, chars[i]),
            _ => {
                chars.remove(i);
            }
        }
        let near: String = chars.into_iter().collect();
        let near = format!("{}{near}", case.prefix);
        // Comma-split flags: a comma would make two ids, not one bad one.
        prop_assume!(!near.contains(','));
        prop_assert!(refused(case, &near), "near miss accepted: {near:?} (from {id:?})");
    }
}
