//! Hot-plug: a thread lists the devices about once a second and sends what
//! changed. Polling rather than OS notifications: one code path for every
//! backend (PulseAudio, ALSA, v4l), and a second's delay is fine for a
//! Settings list or a "your headset was unplugged" notice.
//!
//! **Invariant:** the channel holds at most [`EVENT_QUEUE`] changes; when the
//! consumer is that far behind, further changes are dropped (counted in
//! [`DeviceWatcher::dropped`]) — a consumer that sees any change re-lists.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, TrySendError, sync_channel};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::devices::{AudioSystem, DeviceId, DeviceInfo, DeviceKind, list_with};

/// Changes that may wait for the consumer.
pub const EVENT_QUEUE: usize = 64;

/// One change in the device list.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeviceChange {
    /// A device appeared.
    Added(DeviceInfo),
    /// A device went away.
    Removed(DeviceInfo),
    /// The system's default device of this kind changed to this one.
    DefaultChanged(DeviceInfo),
}

/// What changed from `old` to `new` (by kind and id): removals first, then
/// additions, then default changes.
pub fn diff(old: &[DeviceInfo], new: &[DeviceInfo]) -> Vec<DeviceChange> {
    let key = |d: &DeviceInfo| (d.kind, d.id.clone());
    let old_map: BTreeMap<(DeviceKind, DeviceId), &DeviceInfo> =
        old.iter().map(|d| (key(d), d)).collect();
    let new_map: BTreeMap<(DeviceKind, DeviceId), &DeviceInfo> =
        new.iter().map(|d| (key(d), d)).collect();
    let mut out: Vec<DeviceChange> = old_map
        .iter()
        .filter(|(k, _)| !new_map.contains_key(k))
        .map(|(_, d)| DeviceChange::Removed((*d).clone()))
        .collect();
    out.extend(
        new_map
            .iter()
            .filter(|(k, _)| !old_map.contains_key(k))
            .map(|(_, d)| DeviceChange::Added((*d).clone())),
    );
    out.extend(
        new_map
            .iter()
            .filter(|(k, d)| d.is_default && old_map.get(k).is_some_and(|o| !o.is_default))
            .map(|(_, d)| DeviceChange::DefaultChanged((*d).clone())),
    );
    out
}

/// The polling thread; stops when dropped.
#[derive(Debug)]
pub struct DeviceWatcher {
    stop: Arc<AtomicBool>,
    dropped: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl DeviceWatcher {
    /// Starts watching with the automatic audio backend, polling every
    /// `period` (1 s is the intended value). The first listing is the
    /// baseline: only later changes are sent.
    pub fn start(period: Duration) -> (Self, Receiver<DeviceChange>) {
        let (tx, rx) = sync_channel(EVENT_QUEUE);
        let stop = Arc::new(AtomicBool::new(false));
        let dropped = Arc::new(AtomicU64::new(0));
        let (s, d) = (Arc::clone(&stop), Arc::clone(&dropped));
        let thread = std::thread::Builder::new()
            .name("bedside-devices".into())
            .spawn(move || {
                let mut audio = AudioSystem::new();
                let mut last = list_with(&audio);
                let step = Duration::from_millis(50);
                while !s.load(Ordering::Acquire) {
                    let mut waited = Duration::ZERO;
                    while waited < period && !s.load(Ordering::Acquire) {
                        std::thread::sleep(step);
                        waited += step;
                    }
                    if s.load(Ordering::Acquire) {
                        break;
                    }
                    let mut now = list_with(&audio);
                    if now.iter().all(|x| x.kind == DeviceKind::Camera) {
                        // No audio device at all: the server may have restarted
                        // (a cpal PulseAudio client does not reconnect). Try a fresh host.
                        audio = AudioSystem::new();
                        now = list_with(&audio);
                    }
                    for change in diff(&last, &now) {
                        match tx.try_send(change) {
                            Ok(()) => {}
                            Err(TrySendError::Full(_)) => {
                                d.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(TrySendError::Disconnected(_)) => return,
                        }
                    }
                    last = now;
                }
            })
            .ok();
        if thread.is_none() {
            tracing::warn!("could not start the device watcher");
        }
        (
            Self {
                stop,
                dropped,
                thread,
            },
            rx,
        )
    }

    /// Changes dropped because the consumer was behind.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

impl Drop for DeviceWatcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev(id: &str, kind: DeviceKind, is_default: bool) -> DeviceInfo {
        DeviceInfo {
            id: DeviceId(id.into()),
            name: id.to_uppercase(),
            kind,
            is_default,
        }
    }

    #[test]
    fn diff_reports_added_removed_and_default_changes() {
        let a = dev("a", DeviceKind::Microphone, true);
        let b = dev("b", DeviceKind::Microphone, false);
        let c = dev("c", DeviceKind::Speaker, true);
        assert!(diff(&[a.clone(), c.clone()], &[a.clone(), c.clone()]).is_empty());
        assert_eq!(
            diff(std::slice::from_ref(&a), &[a.clone(), b.clone()]),
            vec![DeviceChange::Added(b.clone())]
        );
        assert_eq!(
            diff(&[a.clone(), b.clone()], std::slice::from_ref(&b)),
            vec![DeviceChange::Removed(a.clone())]
        );
        let b_default = dev("b", DeviceKind::Microphone, true);
        let a_plain = dev("a", DeviceKind::Microphone, false);
        assert_eq!(
            diff(&[a.clone(), b.clone()], &[a_plain, b_default.clone()]),
            vec![DeviceChange::DefaultChanged(b_default)]
        );
        // Same id, different kind: two devices.
        let a_spk = dev("a", DeviceKind::Speaker, false);
        assert_eq!(
            diff(std::slice::from_ref(&a), &[a.clone(), a_spk.clone()]),
            vec![DeviceChange::Added(a_spk)]
        );
    }
}
