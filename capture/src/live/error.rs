//! Errors of live capture. Each says what failed, on which interface, and — when the
//! kernel refused — which privilege is missing.

use std::io;

/// Why a live capture could not be opened or read.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// The options are invalid (nothing was tried).
    #[error("invalid live capture options: {0}")]
    BadOptions(String),
    /// The interface does not exist.
    #[error("interface {iface:?} does not exist (see `ip link`)")]
    NoInterface {
        /// The interface name asked for.
        iface: String,
    },
    /// The kernel refused for lack of privilege.
    #[error("{what} on {iface:?} was refused: needs {privilege} (run as root or grant the capability): {source}")]
    Privilege {
        /// What was attempted ("loading the XDP program", "opening an AF_PACKET socket").
        what: &'static str,
        /// Interface.
        iface: String,
        /// The missing privilege, e.g. "CAP_NET_RAW".
        privilege: &'static str,
        /// The OS error (EPERM/EACCES).
        source: io::Error,
    },
    /// The crate was built without the XDP program.
    #[error("{0}")]
    XdpUnavailable(String),
    /// Loading or attaching the XDP program failed for another reason.
    #[error("XDP {step} on {iface:?} failed: {detail}")]
    Xdp {
        /// The step: "load", "attach in driver mode", ...
        step: String,
        /// Interface.
        iface: String,
        /// The loader's message (verifier log excerpt, errno).
        detail: String,
    },
    /// A system call failed.
    #[error("{what} on {iface:?} failed: {source}")]
    Io {
        /// What was attempted.
        what: &'static str,
        /// Interface.
        iface: String,
        /// The OS error.
        source: io::Error,
    },
    /// Every backend that was allowed failed; one reason per backend.
    #[error("no live capture backend could be opened on {iface:?}: {}", reasons.join("; "))]
    AllFailed {
        /// Interface.
        iface: String,
        /// "backend: reason" for each backend tried, in order.
        reasons: Vec<String>,
    },
}

impl LiveError {
    /// True when the failure is a missing privilege (for this error or any backend tried).
    pub fn is_privilege(&self) -> bool {
        match self {
            LiveError::Privilege { .. } => true,
            LiveError::AllFailed { reasons, .. } => {
                reasons.iter().any(|r| r.contains("needs CAP_"))
            }
            _ => false,
        }
    }
}

/// True for the errno values the kernel uses to refuse an unprivileged caller.
pub(crate) fn is_permission_errno(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EPERM) | Some(libc::EACCES))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn privilege_error_names_the_capability() {
        let e = LiveError::Privilege {
            what: "opening an AF_PACKET socket",
            iface: "lo".into(),
            privilege: "CAP_NET_RAW",
            source: io::Error::from_raw_os_error(libc::EPERM),
        };
        let s = e.to_string();
        assert!(
            s.contains("CAP_NET_RAW") && s.contains("\"lo\"") && s.contains("not permitted"),
            "{s}"
        );
        assert!(e.is_privilege());
        let all = LiveError::AllFailed {
            iface: "lo".into(),
            reasons: vec![format!("afpacket: {s}")],
        };
        assert!(all.is_privilege());
        assert!(all.to_string().contains("CAP_NET_RAW"));
    }
}
