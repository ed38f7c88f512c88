//! `controller.quorum.voters`: who votes in the metadata quorum and where their CONTROLLER
//! listeners are.

use std::collections::BTreeMap;

use crate::MetaError;

/// Parse `controller.quorum.voters` (`1@host:port,2@host:port`).
pub fn parse_voters(s: &str) -> Result<BTreeMap<u64, String>, MetaError> {
    let mut out = BTreeMap::new();
    for item in s.split(',').map(str::trim).filter(|x| !x.is_empty()) {
        let (id, addr) = item.split_once('@').ok_or_else(|| {
            MetaError::InvalidRequest(format!("voter {item:?} is not id@host:port"))
        })?;
        let id: u64 = id
            .parse()
            .map_err(|_| MetaError::InvalidRequest(format!("voter id {id:?} is not a number")))?;
        out.insert(id, addr.to_string());
    }
    Ok(out)
}
