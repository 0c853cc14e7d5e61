//! The keeper's wire: one JSON message per packet on a `SOCK_SEQPACKET`
//! socketpair, with file descriptors attached (`SCM_RIGHTS`). A packet is
//! delivered whole with its descriptors or not at all, so there is no
//! framing to get wrong.

use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::sys::socket::{
    AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags, SockFlag, SockType, recvmsg,
    sendmsg, socketpair,
};
use serde::{Deserialize, Serialize};

/// Version of this wire and of the state a daemon hands over; a daemon and
/// a keeper (or two daemons, across `pmr update`) of other versions refuse
/// each other instead of guessing.
pub const VERSION: u32 = 1;
/// Descriptors one packet may carry.
pub const MAX_FDS: usize = 16;
/// Largest packet; keys and paths are short.
const MAX_PACKET: usize = 16 * 1024;

/// What the keeper and its daemon tell each other.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Msg {
    /// Both ways, first: the sender's wire version.
    Hello { v: u32 },
    /// Daemon: keep these descriptors under `key` (replacing what it held).
    Park { key: String },
    /// Daemon: close what `key` holds; its owner is gone.
    Unpark { key: String },
    /// Keeper, after hello: descriptors kept under `key`.
    Parked { key: String },
    /// Keeper: a process it reaped (an app whose daemon had died), with
    /// its raw wait status.
    Exited { pid: u32, status: i32 },
    /// Keeper: everything parked and reaped so far has been sent.
    End,
    /// Daemon: it has taken over and answers clients (the health check
    /// of a daemon started by `pmr update`).
    Ready,
    /// Daemon: it is exiting cleanly; the keeper exits with it.
    Bye,
    /// Daemon: it is exiting for `exe`, which the keeper starts next.
    Handover { exe: String },
}

/// A connected pair; both ends close on exec.
pub fn pair() -> io::Result<(OwnedFd, OwnedFd)> {
    Ok(socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )?)
}

/// Sends one message with `fds` attached.
pub fn send(sock: BorrowedFd<'_>, msg: &Msg, fds: &[RawFd]) -> io::Result<()> {
    let bytes = serde_json::to_vec(msg)?;
    let iov = [IoSlice::new(&bytes)];
    let rights = [ControlMessage::ScmRights(fds)];
    let cmsgs: &[ControlMessage] = if fds.is_empty() { &[] } else { &rights };
    loop {
        match sendmsg::<()>(sock.as_raw_fd(), &iov, cmsgs, MsgFlags::MSG_NOSIGNAL, None) {
            Ok(_) => return Ok(()),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(nix::errno::Errno::EAGAIN) => {
                // The peer reads every packet at once; a full buffer is a
                // moment's wait, never a reason to drop a message.
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Receives one message and its descriptors; `None` when the peer is gone.
/// A packet that is not a message is an error (its descriptors are closed).
#[allow(unsafe_code)]
pub fn recv(sock: BorrowedFd<'_>, dontwait: bool) -> io::Result<Option<(Msg, Vec<OwnedFd>)>> {
    let mut buf = vec![0u8; MAX_PACKET];
    let mut space = nix::cmsg_space!([RawFd; MAX_FDS]);
    let mut flags = MsgFlags::MSG_CMSG_CLOEXEC;
    if dontwait {
        flags |= MsgFlags::MSG_DONTWAIT;
    }
    let (len, fds) = loop {
        let mut iov = [IoSliceMut::new(&mut buf)];
        match recvmsg::<()>(sock.as_raw_fd(), &mut iov, Some(&mut space), flags) {
            Ok(m) => {
                let mut fds = Vec::new();
                for c in m.cmsgs().map_err(io::Error::from)? {
                    if let ControlMessageOwned::ScmRights(raw) = c {
                        // SAFETY: the kernel just installed these descriptors
                        // in this process; nothing else owns them.
                        fds.extend(raw.into_iter().map(|r| unsafe { OwnedFd::from_raw_fd(r) }));
                    }
                }
                break (m.bytes, fds);
            }
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
    };
    if len == 0 {
        return Ok(None);
    }
    let msg = serde_json::from_slice(&buf[..len])
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("keeper wire: {e}")))?;
    Ok(Some((msg, fds)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::fd::AsFd;

    #[test]
    fn a_message_travels_with_its_descriptors() {
        let (a, b) = pair().unwrap();
        let (r, w) = nix::unistd::pipe().unwrap();
        let msg = Msg::Park {
            key: "app:1:42".into(),
        };
        send(a.as_fd(), &msg, &[r.as_raw_fd()]).unwrap();
        drop(r);
        let (got, fds) = recv(b.as_fd(), false).unwrap().unwrap();
        assert_eq!(got, msg);
        assert_eq!(fds.len(), 1);
        std::fs::File::from(w).write_all(b"kept").unwrap();
        let mut text = String::new();
        std::fs::File::from(fds.into_iter().next().unwrap())
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "kept");
        drop(a);
        assert!(recv(b.as_fd(), false).unwrap().is_none(), "peer gone");
    }
}
