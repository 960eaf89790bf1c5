//! Not offered yet: see its issue.

use crate::error::Error;
use crate::plan::{Operation, Plan};
use crate::providers::Ctx;

pub const OPERATIONS: &[Operation] = &[];

pub fn validate(_plan: &Plan) -> Result<(), Error> {
    Ok(())
}

pub async fn run(_ctx: &Ctx) -> Result<(), Error> {
    Err(Error::internal("qingcloud is not offered yet"))
}
