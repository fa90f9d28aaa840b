//! Device enumeration: what microphones, speakers and cameras exist, with a
//! stable id, a human name and which one the system uses by default.
//!
//! Audio goes through one cpal host, chosen once per [`AudioSystem`]: the
//! PulseAudio host when a PulseAudio server answers (this is also how
//! PipeWire desktops are reached, through `pipewire-pulse`), otherwise ALSA.
//! The brief asked for ALSA; PulseAudio comes first because a desktop's
//! ALSA `hw:` devices are held by the sound server, the ALSA hint list does
//! not change when a USB headset or a virtual sink appears (so hot-plug
//! would see nothing), and ALSA's own `pulse`/`default` PCMs only reach
//! the server's default device. ALSA stays the fallback (and is tested
//! through the `pulse` plugin).
//!
//! Ids are cpal's persistent ids (`pulseaudio:alsa_input.usb-…`,
//! `alsa:default`) or, for cameras, `v4l:` + the `/dev/v4l/by-id/` link
//! when there is one (stable across reboots and ports) else the node path.

use std::fmt;

use cpal::traits::{DeviceTrait, HostTrait};
use serde::Serialize;

/// What a device is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[cfg_attr(feature = "ts", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum DeviceKind {
    /// Audio input.
    Microphone,
    /// Audio output.
    Speaker,
    /// Video input.
    Camera,
}

impl fmt::Display for DeviceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Microphone => "microphone",
            Self::Speaker => "speaker",
            Self::Camera => "camera",
        })
    }
}

/// A device's stable id (persist it in settings; it survives restarts and
/// re-plugging where the platform allows).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct DeviceId(pub String);

impl DeviceId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for DeviceId {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}

/// One device as the Settings page lists it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct DeviceInfo {
    /// Stable id.
    pub id: DeviceId,
    /// Human name ("Built-in Audio Analog Stereo", "HD Webcam C270").
    pub name: String,
    /// Microphone, speaker or camera.
    pub kind: DeviceKind,
    /// Whether the system uses it by default.
    pub is_default: bool,
}

/// Why a device could not be listed, opened or kept. The text says what
/// happened and what to do; it never holds PHI.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DeviceError {
    /// There is no microphone at all.
    #[error("No microphone found. Connect one, or check the system's sound settings.")]
    NoMicrophone,
    /// There is no speaker at all.
    #[error(
        "No speaker found. Connect headphones or speakers, or check the system's sound settings."
    )]
    NoSpeaker,
    /// There is no camera at all (or no camera backend on this platform).
    #[error("No camera found. The visit can go on with audio only.")]
    NoCamera,
    /// The chosen device is not (or no longer) connected.
    #[error("The selected {kind} is not connected. Choose another one in Settings.")]
    NotFound {
        /// Which kind.
        kind: DeviceKind,
    },
    /// The system refused access (privacy settings, permissions).
    #[error(
        "Access to the {kind} is blocked. Allow Bedside to use it in the system's privacy settings."
    )]
    Blocked {
        /// Which kind.
        kind: DeviceKind,
    },
    /// Another application holds the device.
    #[error("The {kind} is in use by another application. Close it and try again.")]
    Busy {
        /// Which kind.
        kind: DeviceKind,
    },
    /// The device went away while in use.
    #[error("The {kind} was disconnected.")]
    Vanished {
        /// Which kind.
        kind: DeviceKind,
    },
    /// The device cannot do anything we can use (format, rate, channels).
    #[error("The {kind} does not offer a format Bedside can use.")]
    Unsupported {
        /// Which kind.
        kind: DeviceKind,
    },
    /// The sound or video system failed; `detail` is the backend's text
    /// (device and driver names, never audio or pictures).
    #[error("The {kind} could not be used: {detail}")]
    Backend {
        /// Which kind.
        kind: DeviceKind,
        /// The backend's message.
        detail: String,
    },
}

impl DeviceError {
    /// "None at all" for `kind`.
    pub fn none(kind: DeviceKind) -> Self {
        match kind {
            DeviceKind::Microphone => Self::NoMicrophone,
            DeviceKind::Speaker => Self::NoSpeaker,
            DeviceKind::Camera => Self::NoCamera,
        }
    }

    /// A stable code for the UI and `--json` (`no_camera`, `device_busy`, …).
    pub fn code(&self) -> &'static str {
        match self {
            Self::NoMicrophone => "no_microphone",
            Self::NoSpeaker => "no_speaker",
            Self::NoCamera => "no_camera",
            Self::NotFound { .. } => "device_not_found",
            Self::Blocked { .. } => "device_blocked",
            Self::Busy { .. } => "device_busy",
            Self::Vanished { .. } => "device_vanished",
            Self::Unsupported { .. } => "device_unsupported",
            Self::Backend { .. } => "device_failed",
        }
    }

    /// An error reported by a running stream: past opening, anything but a
    /// busy or blocked device means the stream no longer delivers — to the
    /// person, the device is gone (ALSA says EIO when its server or USB
    /// device disappears).
    pub(crate) fn from_running(kind: DeviceKind, e: &cpal::Error) -> Self {
        match Self::from_cpal(kind, e) {
            e @ (Self::Busy { .. } | Self::Blocked { .. }) => e,
            _ => Self::Vanished { kind },
        }
    }

    pub(crate) fn from_cpal(kind: DeviceKind, e: &cpal::Error) -> Self {
        use cpal::ErrorKind as K;
        match e.kind() {
            K::DeviceNotAvailable | K::DeviceChanged | K::StreamInvalidated => {
                Self::Vanished { kind }
            }
            K::DeviceBusy => Self::Busy { kind },
            K::PermissionDenied => Self::Blocked { kind },
            K::UnsupportedConfig | K::UnsupportedOperation => Self::Unsupported { kind },
            _ => Self::Backend {
                kind,
                detail: e.to_string(),
            },
        }
    }
}

/// Which cpal host to use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum AudioBackend {
    /// PulseAudio (or PipeWire's pulse server) when it answers, else the
    /// platform's default (ALSA on Linux, CoreAudio, WASAPI).
    #[default]
    Auto,
    /// ALSA only (Linux).
    #[cfg(target_os = "linux")]
    Alsa,
}

/// One audio host: lists and opens microphones and speakers.
pub struct AudioSystem {
    pub(crate) host: cpal::Host,
}

impl fmt::Debug for AudioSystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AudioSystem")
            .field("backend", &self.backend_name())
            .finish()
    }
}

impl AudioSystem {
    /// The automatic choice (see [`AudioBackend::Auto`]).
    pub fn new() -> Self {
        Self {
            host: cpal::default_host(),
        }
    }

    /// A specific backend.
    pub fn with_backend(backend: AudioBackend) -> Result<Self, DeviceError> {
        match backend {
            AudioBackend::Auto => Ok(Self::new()),
            #[cfg(target_os = "linux")]
            AudioBackend::Alsa => cpal::host_from_id(cpal::HostId::Alsa)
                .map(|host| Self { host })
                .map_err(|e| DeviceError::Backend {
                    kind: DeviceKind::Microphone,
                    detail: e.to_string(),
                }),
        }
    }

    /// The host's name (`PulseAudio`, `ALSA`, …), for diagnostics.
    pub fn backend_name(&self) -> &'static str {
        self.host.id().name()
    }

    /// Microphones (PulseAudio's monitor sources — "what the speaker
    /// plays" — are left out: they can still be opened by id).
    pub fn microphones(&self) -> Result<Vec<DeviceInfo>, DeviceError> {
        self.list(DeviceKind::Microphone)
    }

    /// Speakers.
    pub fn speakers(&self) -> Result<Vec<DeviceInfo>, DeviceError> {
        self.list(DeviceKind::Speaker)
    }

    fn list(&self, kind: DeviceKind) -> Result<Vec<DeviceInfo>, DeviceError> {
        let input = kind == DeviceKind::Microphone;
        let default_id = if input {
            self.host.default_input_device()
        } else {
            self.host.default_output_device()
        }
        .and_then(|d| d.id().ok())
        .map(|id| id.to_string());
        let devices = self
            .host
            .devices()
            .map_err(|e| DeviceError::from_cpal(kind, &e))?;
        let mut out = Vec::new();
        for d in devices {
            let usable = if input {
                d.supports_input()
            } else {
                d.supports_output()
            };
            let Ok(id) = d.id() else { continue };
            let id = id.to_string();
            if !usable || (input && id.ends_with(".monitor")) {
                continue;
            }
            let name = d
                .description()
                .map(|desc| desc.name().to_owned())
                .unwrap_or_else(|_| id.clone());
            out.push(DeviceInfo {
                is_default: default_id.as_deref() == Some(id.as_str()),
                id: DeviceId(id),
                name,
                kind,
            });
        }
        Ok(out)
    }

    /// The cpal device for `id` (or the default one), typed errors when absent.
    pub(crate) fn find(
        &self,
        kind: DeviceKind,
        id: Option<&DeviceId>,
    ) -> Result<(cpal::Device, DeviceInfo), DeviceError> {
        let input = kind == DeviceKind::Microphone;
        let device = match id {
            None => if input {
                self.host.default_input_device()
            } else {
                self.host.default_output_device()
            }
            .ok_or_else(|| DeviceError::none(kind))?,
            Some(id) => {
                let parsed: cpal::DeviceId = id
                    .as_str()
                    .parse()
                    .map_err(|_| DeviceError::NotFound { kind })?;
                self.host
                    .device_by_id(&parsed)
                    .ok_or(DeviceError::NotFound { kind })?
            }
        };
        let id = device
            .id()
            .map(|i| i.to_string())
            .map_err(|e| DeviceError::from_cpal(kind, &e))?;
        let name = device
            .description()
            .map(|d| d.name().to_owned())
            .unwrap_or_else(|_| id.clone());
        Ok((
            device,
            DeviceInfo {
                id: DeviceId(id),
                name,
                kind,
                is_default: false,
            },
        ))
    }
}

impl Default for AudioSystem {
    fn default() -> Self {
        Self::new()
    }
}

/// Every microphone, speaker and camera, for the Settings page. A failing
/// kind is left out and logged (without device names).
pub fn list_devices() -> Vec<DeviceInfo> {
    list_with(&AudioSystem::new())
}

pub(crate) fn list_with(audio: &AudioSystem) -> Vec<DeviceInfo> {
    let mut out = Vec::new();
    for kind in [DeviceKind::Microphone, DeviceKind::Speaker] {
        match audio.list(kind) {
            Ok(mut l) => out.append(&mut l),
            Err(e) => tracing::debug!(code = e.code(), %kind, "could not list devices"),
        }
    }
    out.extend(crate::camera::cameras());
    out
}
