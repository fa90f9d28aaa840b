//! Microphone capture and speaker playback through cpal, always presented as
//! 48 kHz mono `i16` in 20 ms frames (what Opus and the jitter buffer use).
//!
//! We ask the device for 48 kHz, mono and `i16` where it offers them and
//! convert what it gives otherwise: any of `i16`/`i32`/`f32`/`u8`/`u16`,
//! any channel count (averaged down to mono, copied up to every channel on
//! playback). A device that cannot run at 48 kHz (rare: some USB headsets
//! are 44.1 kHz or 16 kHz only) is resampled with linear interpolation —
//! simple and cheap, audibly fine for speech, not for music; no
//! anti-aliasing filter is applied when going down.
//!
//! **Invariant:** bounded in both directions. Captured frames wait in a
//! channel of [`CAPTURE_QUEUE_FRAMES`] (when the consumer is that far behind
//! the newest frame is dropped and counted); the speaker buffer holds at most
//! [`PLAYBACK_MAX_MS`] and drops the oldest samples when pushed past it.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cpal::traits::{DeviceTrait, StreamTrait};
use cpal::{Data, SampleFormat, StreamConfig, SupportedStreamConfig};

use crate::devices::{AudioSystem, DeviceError, DeviceId, DeviceInfo, DeviceKind};
use crate::{FRAME_SAMPLES, SAMPLE_RATE};

/// Captured 20 ms frames that may wait for the consumer (1 s).
pub const CAPTURE_QUEUE_FRAMES: usize = 50;
/// Most audio the speaker buffer holds, in milliseconds.
pub const PLAYBACK_MAX_MS: u32 = 200;

const FORMATS: [SampleFormat; 5] = [
    SampleFormat::I16,
    SampleFormat::F32,
    SampleFormat::I32,
    SampleFormat::U16,
    SampleFormat::U8,
];

/// Picks a config: 48 kHz if the device can, then fewest channels, then the
/// format order of [`FORMATS`]; else the device's default if its format is
/// one we convert.
fn choose_config(
    device: &cpal::Device,
    kind: DeviceKind,
) -> Result<SupportedStreamConfig, DeviceError> {
    let input = kind == DeviceKind::Microphone;
    let ranges: Vec<_> = if input {
        device.supported_input_configs().map(|r| r.collect())
    } else {
        device.supported_output_configs().map(|r| r.collect())
    }
    .map_err(|e| DeviceError::from_cpal(kind, &e))?;
    let rank = |f: SampleFormat| FORMATS.iter().position(|x| *x == f);
    let best = ranges
        .iter()
        .filter(|r| rank(r.sample_format()).is_some())
        .filter_map(|r| r.try_with_sample_rate(SAMPLE_RATE))
        .min_by_key(|c| (c.channels(), rank(c.sample_format())));
    if let Some(c) = best {
        return Ok(c);
    }
    let default = if input {
        device.default_input_config()
    } else {
        device.default_output_config()
    }
    .map_err(|e| DeviceError::from_cpal(kind, &e))?;
    if rank(default.sample_format()).is_some() {
        return Ok(default);
    }
    // A format we convert at the device's highest rate, then resample.
    ranges
        .iter()
        .filter(|r| rank(r.sample_format()).is_some())
        .min_by_key(|r| (r.channels(), rank(r.sample_format())))
        .map(|r| r.with_max_sample_rate())
        .ok_or(DeviceError::Unsupported { kind })
}

/// Playback asks for 20 ms device buffers when the device allows them (a
/// default PulseAudio playback buffer is ~2 s: that much latency on the
/// patient's voice). Capture on PulseAudio (and PipeWire's pulse server) asks
/// for 40 ms fragments: with the default the server delivers a record
/// stream in **2 s fragments** (measured on a dynamic-latency source: 100
/// frames at once every 2 s — 2 s of latency on the clinician's voice, and
/// bursts the sender cannot pace). cpal 0.18 sets a fixed record stream's
/// `maxlength` equal to its fragment, so a fragment too small overflows:
/// measured 128 of 150 frames in 3 s at 20 ms, 149 of 150 at 40 ms. Other
/// hosts keep the device's default (ALSA's delivers in time).
fn buffer_size(
    host: cpal::HostId,
    chosen: &SupportedStreamConfig,
    input: bool,
) -> cpal::BufferSize {
    if input {
        #[cfg(target_os = "linux")]
        if host == cpal::HostId::PulseAudio {
            return cpal::BufferSize::Fixed(chosen.sample_rate() / 25);
        }
        let _ = host;
        return cpal::BufferSize::Default;
    }
    let want = chosen.sample_rate() / 50;
    match chosen.buffer_size() {
        cpal::SupportedBufferSize::Range { min, max } if (*min..=*max).contains(&want) => {
            cpal::BufferSize::Fixed(want)
        }
        _ => cpal::BufferSize::Default,
    }
}

/// Linear-interpolation resampler for one channel, streaming.
#[derive(Debug)]
pub(crate) struct Linear {
    step: f64,
    t: f64,
    prev: Option<f32>,
}

impl Linear {
    pub(crate) fn new(from_hz: u32, to_hz: u32) -> Self {
        Self {
            step: f64::from(from_hz.max(1)) / f64::from(to_hz.max(1)),
            t: 0.0,
            prev: None,
        }
    }

    fn passthrough(&self) -> bool {
        (self.step - 1.0).abs() < 1e-9
    }

    pub(crate) fn push(&mut self, x: f32, mut out: impl FnMut(f32)) {
        if self.passthrough() {
            out(x);
            return;
        }
        let Some(prev) = self.prev else {
            self.prev = Some(x);
            return;
        };
        while self.t < 1.0 {
            out(prev + (x - prev) * self.t as f32);
            self.t += self.step;
        }
        self.t -= 1.0;
        self.prev = Some(x);
    }
}

fn to_i16(x: f32) -> i16 {
    (x.clamp(-1.0, 1.0) * 32767.0).round() as i16
}

/// Interleaved device samples (any format we take) as f32 frames averaged to mono.
fn for_each_mono(data: &Data, channels: usize, mut f: impl FnMut(f32)) -> bool {
    fn mix<T: Copy>(s: &[T], ch: usize, conv: impl Fn(T) -> f32, f: &mut impl FnMut(f32)) {
        for frame in s.chunks_exact(ch.max(1)) {
            let sum: f32 = frame.iter().map(|&x| conv(x)).sum();
            f(sum / frame.len() as f32);
        }
    }
    match data.sample_format() {
        SampleFormat::I16 => data
            .as_slice::<i16>()
            .map(|s| mix(s, channels, |x| f32::from(x) / 32768.0, &mut f))
            .is_some(),
        SampleFormat::F32 => data
            .as_slice::<f32>()
            .map(|s| mix(s, channels, |x| x, &mut f))
            .is_some(),
        SampleFormat::I32 => data
            .as_slice::<i32>()
            .map(|s| mix(s, channels, |x| x as f32 / 2_147_483_648.0, &mut f))
            .is_some(),
        SampleFormat::U16 => data
            .as_slice::<u16>()
            .map(|s| mix(s, channels, |x| (f32::from(x) - 32768.0) / 32768.0, &mut f))
            .is_some(),
        SampleFormat::U8 => data
            .as_slice::<u8>()
            .map(|s| mix(s, channels, |x| (f32::from(x) - 128.0) / 128.0, &mut f))
            .is_some(),
        _ => false,
    }
}

/// RMS of a frame in dBFS (full-scale sine ≈ −3 dB; silence → −100).
pub fn rms_dbfs(pcm: &[i16]) -> f32 {
    if pcm.is_empty() {
        return -100.0;
    }
    let sum: f64 = pcm.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    let rms = (sum / pcm.len() as f64).sqrt() / 32768.0;
    if rms <= 1e-5 {
        -100.0
    } else {
        (20.0 * rms.log10()) as f32
    }
}

/// Turns device callbacks into 48 kHz mono 20 ms frames.
pub(crate) struct Framer {
    resampler: Linear,
    pending: Vec<i16>,
}

impl Framer {
    pub(crate) fn new(device_hz: u32) -> Self {
        Self {
            resampler: Linear::new(device_hz, SAMPLE_RATE),
            pending: Vec::with_capacity(FRAME_SAMPLES),
        }
    }

    pub(crate) fn push(&mut self, mono: f32, mut frame: impl FnMut(Vec<i16>)) {
        let pending = &mut self.pending;
        self.resampler.push(mono, |x| {
            pending.push(to_i16(x));
            if pending.len() == FRAME_SAMPLES {
                frame(std::mem::replace(
                    pending,
                    Vec::with_capacity(FRAME_SAMPLES),
                ));
            }
        });
    }
}

struct MicShared {
    level_bits: AtomicU32,
    dropped: AtomicU64,
    captured: AtomicU64,
    failed: Mutex<Option<DeviceError>>,
}

/// An open microphone: 20 ms frames of 48 kHz mono `i16` come out of
/// [`Microphone::recv_timeout`]. Dropping it closes the device.
pub struct Microphone {
    _stream: cpal::Stream,
    frames: Receiver<Vec<i16>>,
    shared: Arc<MicShared>,
    info: DeviceInfo,
    device_rate: u32,
}

impl std::fmt::Debug for Microphone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Microphone")
            .field("id", &self.info.id)
            .field("device_rate", &self.device_rate)
            .finish_non_exhaustive()
    }
}

impl Microphone {
    /// Opens `id` (or the default microphone) on `audio` and starts capturing.
    pub fn open(audio: &AudioSystem, id: Option<&DeviceId>) -> Result<Self, DeviceError> {
        let kind = DeviceKind::Microphone;
        let (device, info) = audio.find(kind, id)?;
        let chosen = choose_config(&device, kind)?;
        let config = StreamConfig {
            channels: chosen.channels(),
            sample_rate: chosen.sample_rate(),
            buffer_size: buffer_size(audio.host.id(), &chosen, true),
        };
        let channels = usize::from(config.channels);
        let device_rate = config.sample_rate;
        let (tx, rx): (SyncSender<Vec<i16>>, _) = sync_channel(CAPTURE_QUEUE_FRAMES);
        let shared = Arc::new(MicShared {
            level_bits: AtomicU32::new((-100.0f32).to_bits()),
            dropped: AtomicU64::new(0),
            captured: AtomicU64::new(0),
            failed: Mutex::new(None),
        });
        let mut framer = Framer::new(device_rate);
        let cb_shared = Arc::clone(&shared);
        let err_shared = Arc::clone(&shared);
        let stream = device
            .build_input_stream_raw(
                config,
                chosen.sample_format(),
                move |data: &Data, _: &cpal::InputCallbackInfo| {
                    let s = &cb_shared;
                    for_each_mono(data, channels, |x| {
                        framer.push(x, |frame| {
                            s.level_bits
                                .store(rms_dbfs(&frame).to_bits(), Ordering::Relaxed);
                            s.captured.fetch_add(1, Ordering::Relaxed);
                            match tx.try_send(frame) {
                                Ok(()) | Err(TrySendError::Disconnected(_)) => {}
                                Err(TrySendError::Full(_)) => {
                                    s.dropped.fetch_add(1, Ordering::Relaxed);
                                }
                            }
                        });
                    });
                },
                on_stream_error(kind, err_shared, |s| &s.failed),
                Some(Duration::from_secs(3)),
            )
            .map_err(|e| DeviceError::from_cpal(kind, &e))?;
        stream
            .play()
            .map_err(|e| DeviceError::from_cpal(kind, &e))?;
        Ok(Self {
            _stream: stream,
            frames: rx,
            shared,
            info,
            device_rate,
        })
    }

    /// The next 20 ms frame (960 samples), waiting at most `timeout`.
    /// `Err(Vanished)` (or another error) once the device has failed;
    /// `Ok(None)` on a timeout while the device is still there.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Option<Vec<i16>>, DeviceError> {
        match self.frames.recv_timeout(timeout) {
            Ok(f) => Ok(Some(f)),
            Err(RecvTimeoutError::Timeout) => self.health().map(|()| None),
            Err(RecvTimeoutError::Disconnected) => {
                Err(self.health().err().unwrap_or(DeviceError::Vanished {
                    kind: DeviceKind::Microphone,
                }))
            }
        }
    }

    /// `Err` once the stream has reported a failure (unplugged, revoked).
    pub fn health(&self) -> Result<(), DeviceError> {
        match self.shared.failed.lock() {
            Ok(g) => g.clone().map_or(Ok(()), Err),
            Err(_) => Ok(()),
        }
    }

    /// RMS level of the newest captured frame, dBFS (−100 = silence).
    pub fn level_dbfs(&self) -> f32 {
        f32::from_bits(self.shared.level_bits.load(Ordering::Relaxed))
    }

    /// Frames dropped because the consumer was more than a second behind.
    pub fn dropped_frames(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// Frames captured so far.
    pub fn captured_frames(&self) -> u64 {
        self.shared.captured.load(Ordering::Relaxed)
    }

    /// The device.
    pub fn info(&self) -> &DeviceInfo {
        &self.info
    }

    /// The rate the device runs at (48 000 unless it could not; then we resample).
    pub fn device_rate(&self) -> u32 {
        self.device_rate
    }
}

/// The speaker's bounded buffer, at the device's rate, mono.
struct PlayBuf {
    samples: VecDeque<f32>,
    cap: usize,
    resampler: Linear,
}

struct SpeakerShared {
    buf: Mutex<PlayBuf>,
    dropped: AtomicU64,
    underruns: AtomicU64,
    failed: Mutex<Option<DeviceError>>,
    started: AtomicBool,
}

/// An open speaker fed with 48 kHz mono `i16` through [`Speaker::push`].
/// Dropping it closes the device.
pub struct Speaker {
    _stream: cpal::Stream,
    shared: Arc<SpeakerShared>,
    info: DeviceInfo,
    device_rate: u32,
}

impl std::fmt::Debug for Speaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Speaker")
            .field("id", &self.info.id)
            .field("device_rate", &self.device_rate)
            .finish_non_exhaustive()
    }
}

fn write_out(data: &mut Data, channels: usize, mut next: impl FnMut() -> f32) {
    fn fill<T: Copy>(
        s: &mut [T],
        ch: usize,
        conv: impl Fn(f32) -> T,
        next: &mut impl FnMut() -> f32,
    ) {
        for frame in s.chunks_exact_mut(ch.max(1)) {
            let v = conv(next().clamp(-1.0, 1.0));
            frame.iter_mut().for_each(|x| *x = v);
        }
    }
    match data.sample_format() {
        SampleFormat::I16 => {
            if let Some(s) = data.as_slice_mut::<i16>() {
                fill(s, channels, to_i16, &mut next);
            }
        }
        SampleFormat::F32 => {
            if let Some(s) = data.as_slice_mut::<f32>() {
                fill(s, channels, |x| x, &mut next);
            }
        }
        SampleFormat::I32 => {
            if let Some(s) = data.as_slice_mut::<i32>() {
                fill(
                    s,
                    channels,
                    |x| (f64::from(x) * 2_147_483_647.0) as i32,
                    &mut next,
                );
            }
        }
        SampleFormat::U16 => {
            if let Some(s) = data.as_slice_mut::<u16>() {
                fill(s, channels, |x| (x * 32767.0 + 32768.0) as u16, &mut next);
            }
        }
        SampleFormat::U8 => {
            if let Some(s) = data.as_slice_mut::<u8>() {
                fill(s, channels, |x| (x * 127.0 + 128.0) as u8, &mut next);
            }
        }
        _ => {}
    }
}

impl Speaker {
    /// Opens `id` (or the default speaker) on `audio` and starts playing
    /// (silence until audio is pushed).
    pub fn open(audio: &AudioSystem, id: Option<&DeviceId>) -> Result<Self, DeviceError> {
        let kind = DeviceKind::Speaker;
        let (device, info) = audio.find(kind, id)?;
        let chosen = choose_config(&device, kind)?;
        let config = StreamConfig {
            channels: chosen.channels(),
            sample_rate: chosen.sample_rate(),
            buffer_size: buffer_size(audio.host.id(), &chosen, false),
        };
        let channels = usize::from(config.channels);
        let device_rate = config.sample_rate;
        let cap = (device_rate as usize * PLAYBACK_MAX_MS as usize) / 1000;
        let shared = Arc::new(SpeakerShared {
            buf: Mutex::new(PlayBuf {
                samples: VecDeque::with_capacity(cap),
                cap,
                resampler: Linear::new(SAMPLE_RATE, device_rate),
            }),
            dropped: AtomicU64::new(0),
            underruns: AtomicU64::new(0),
            failed: Mutex::new(None),
            started: AtomicBool::new(false),
        });
        let cb = Arc::clone(&shared);
        let err_shared = Arc::clone(&shared);
        let stream = device
            .build_output_stream_raw(
                config,
                chosen.sample_format(),
                move |data: &mut Data, _: &cpal::OutputCallbackInfo| {
                    let Ok(mut g) = cb.buf.lock() else { return };
                    let mut short = false;
                    write_out(data, channels, || {
                        g.samples.pop_front().unwrap_or_else(|| {
                            short = true;
                            0.0
                        })
                    });
                    if short && cb.started.load(Ordering::Relaxed) {
                        cb.underruns.fetch_add(1, Ordering::Relaxed);
                    }
                },
                on_stream_error(kind, err_shared, |s| &s.failed),
                Some(Duration::from_secs(3)),
            )
            .map_err(|e| DeviceError::from_cpal(kind, &e))?;
        stream
            .play()
            .map_err(|e| DeviceError::from_cpal(kind, &e))?;
        Ok(Self {
            _stream: stream,
            shared,
            info,
            device_rate,
        })
    }

    /// Queues 48 kHz mono samples for playback. Past [`PLAYBACK_MAX_MS`] the
    /// oldest queued samples are dropped (and counted): latency stays bounded
    /// when the device runs slower than the call.
    pub fn push(&self, pcm: &[i16]) {
        let Ok(mut g) = self.shared.buf.lock() else {
            return;
        };
        self.shared.started.store(true, Ordering::Relaxed);
        let PlayBuf {
            samples,
            cap,
            resampler,
        } = &mut *g;
        let mut dropped = 0u64;
        for &s in pcm {
            resampler.push(f32::from(s) / 32768.0, |x| {
                if samples.len() >= *cap {
                    samples.pop_front();
                    dropped += 1;
                }
                samples.push_back(x);
            });
        }
        if dropped > 0 {
            self.shared.dropped.fetch_add(dropped, Ordering::Relaxed);
        }
    }

    /// Milliseconds of audio waiting to be played.
    pub fn buffered_ms(&self) -> u32 {
        let n = self.shared.buf.lock().map(|g| g.samples.len()).unwrap_or(0);
        (n as u64 * 1000 / u64::from(self.device_rate.max(1))) as u32
    }

    /// Samples dropped because the buffer was full.
    pub fn dropped_samples(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// Device callbacks that found the buffer short (after the first push).
    pub fn underruns(&self) -> u64 {
        self.shared.underruns.load(Ordering::Relaxed)
    }

    /// `Err` once the stream has reported a failure.
    pub fn health(&self) -> Result<(), DeviceError> {
        match self.shared.failed.lock() {
            Ok(g) => g.clone().map_or(Ok(()), Err),
            Err(_) => Ok(()),
        }
    }

    /// The device.
    pub fn info(&self) -> &DeviceInfo {
        &self.info
    }

    /// The rate the device runs at.
    pub fn device_rate(&self) -> u32 {
        self.device_rate
    }
}

/// The error callback of a cpal stream: overruns and underruns are not failures; anything else
/// is kept (the first one) for `health()` to report.
fn on_stream_error<S: Send + Sync + 'static>(
    kind: DeviceKind,
    shared: Arc<S>,
    failed: fn(&S) -> &Mutex<Option<DeviceError>>,
) -> impl FnMut(cpal::Error) + Send + 'static {
    move |e: cpal::Error| {
        if e.kind() == cpal::ErrorKind::Xrun {
            return;
        }
        match kind {
            DeviceKind::Microphone => tracing::debug!(error = %e, "microphone stream error"),
            _ => tracing::debug!(error = %e, "speaker stream error"),
        }
        if let Ok(mut g) = failed(&shared).lock() {
            g.get_or_insert(DeviceError::from_running(kind, &e));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_resampler_keeps_the_rate_and_the_shape() {
        // 1 s of a 1 kHz sine at 44.1 kHz → ~48,000 samples, still 1 kHz.
        let mut r = Linear::new(44_100, 48_000);
        let mut out = Vec::new();
        for i in 0..44_100 {
            let x = (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / 44_100.0).sin();
            r.push(x, |y| out.push(y));
        }
        assert!((47_990..=48_000).contains(&out.len()), "{}", out.len());
        let crossings = out.windows(2).filter(|w| w[0] < 0.0 && w[1] >= 0.0).count();
        assert!((995..=1001).contains(&crossings), "{crossings}");
        let mut same = Linear::new(48_000, 48_000);
        let mut n = 0;
        same.push(0.5, |y| {
            assert_eq!(y, 0.5);
            n += 1;
        });
        assert_eq!(n, 1, "48 kHz passes through");
    }

    #[test]
    fn framer_cuts_960_sample_frames() {
        let mut f = Framer::new(48_000);
        let mut frames = Vec::new();
        for i in 0..(960 * 3 + 100) {
            f.push(if i % 2 == 0 { 0.5 } else { -0.5 }, |fr| frames.push(fr));
        }
        assert_eq!(frames.len(), 3);
        assert!(frames.iter().all(|fr| fr.len() == 960));
        assert_eq!(frames[0][0], 16384);
    }

    #[test]
    fn levels_in_dbfs() {
        assert_eq!(rms_dbfs(&[0; 960]), -100.0);
        let full: Vec<i16> = (0..960)
            .map(|i| (32767.0 * (i as f32 * 0.1).sin()) as i16)
            .collect();
        let db = rms_dbfs(&full);
        assert!((-3.5..=-2.5).contains(&db), "{db}");
        let quiet: Vec<i16> = full.iter().map(|s| s / 10).collect();
        assert!((rms_dbfs(&quiet) - (db - 20.0)).abs() < 0.5);
    }
}
