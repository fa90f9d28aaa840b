//! Opus through `audiopus` (a safe API over the system libopus): 48 kHz,
//! 20 ms frames, mono or stereo, interleaved `i16`.

use audiopus::coder::{Decoder, Encoder};
use audiopus::{Application, Bitrate, Channels, SampleRate};

use crate::CodecError;

/// The only sample rate used (WebRTC's Opus clock).
pub const OPUS_SAMPLE_RATE: u32 = 48_000;
/// Samples per channel in one 20 ms frame.
pub const OPUS_FRAME_SAMPLES: usize = 960;
/// The largest frame Opus can put in one packet is 120 ms.
const MAX_DECODED_PER_CHANNEL: usize = 5760;
/// RFC 6716 recommends a 4000-byte output buffer; a 20 ms voice packet is
/// far smaller.
const MAX_PACKET: usize = 4000;

fn channels(n: u8) -> Result<Channels, CodecError> {
    match n {
        1 => Ok(Channels::Mono),
        2 => Ok(Channels::Stereo),
        _ => Err(CodecError::BadInput("Opus takes 1 or 2 channels".into())),
    }
}

/// An Opus encoder for speech (VoIP mode, in-band FEC on).
pub struct OpusEncoder {
    inner: Encoder,
    channels: usize,
}

impl OpusEncoder {
    /// A 48 kHz encoder for `channels` (1 or 2) at 32 kbit/s per channel.
    pub fn new(channels_count: u8) -> Result<Self, CodecError> {
        let ch = channels(channels_count)?;
        let mut inner = Encoder::new(SampleRate::Hz48000, ch, Application::Voip)
            .map_err(|e| CodecError::Init(format!("opus encoder: {e}")))?;
        inner
            .set_bitrate(Bitrate::BitsPerSecond(32_000 * i32::from(channels_count)))
            .map_err(|e| CodecError::Init(format!("opus bitrate: {e}")))?;
        inner
            .set_inband_fec(true)
            .map_err(|e| CodecError::Init(format!("opus fec: {e}")))?;
        Ok(Self {
            inner,
            channels: usize::from(channels_count),
        })
    }

    /// Encodes one 20 ms frame: exactly 960 samples per channel,
    /// interleaved.
    pub fn encode(&mut self, pcm: &[i16]) -> Result<Vec<u8>, CodecError> {
        if pcm.len() != OPUS_FRAME_SAMPLES * self.channels {
            return Err(CodecError::BadInput(
                "Opus frames are 20 ms (960 samples per channel)".into(),
            ));
        }
        let mut out = vec![0u8; MAX_PACKET];
        let n = self
            .inner
            .encode(pcm, &mut out)
            .map_err(|e| CodecError::Encode(format!("opus: {e}")))?;
        out.truncate(n);
        Ok(out)
    }

    /// Changes the target bitrate (bits per second, 500–512000).
    pub fn set_bitrate(&mut self, bps: i32) -> Result<(), CodecError> {
        if !(500..=512_000).contains(&bps) {
            return Err(CodecError::BadInput("Opus bitrate out of range".into()));
        }
        self.inner
            .set_bitrate(Bitrate::BitsPerSecond(bps))
            .map_err(|e| CodecError::Encode(format!("opus bitrate: {e}")))
    }
}

/// An Opus decoder with packet-loss concealment.
pub struct OpusDecoder {
    inner: Decoder,
    channels: usize,
}

impl OpusDecoder {
    /// A 48 kHz decoder for `channels` (1 or 2).
    pub fn new(channels_count: u8) -> Result<Self, CodecError> {
        let ch = channels(channels_count)?;
        let inner = Decoder::new(SampleRate::Hz48000, ch)
            .map_err(|e| CodecError::Init(format!("opus decoder: {e}")))?;
        Ok(Self {
            inner,
            channels: usize::from(channels_count),
        })
    }

    /// Decodes one packet into interleaved samples. `None` = a lost packet:
    /// libopus conceals it with 20 ms of plausible audio. A malformed packet
    /// gives an error, never a crash.
    pub fn decode(&mut self, packet: Option<&[u8]>) -> Result<Vec<i16>, CodecError> {
        let per_channel = match packet {
            Some([]) => return Err(CodecError::BadInput("empty Opus packet".into())),
            Some(_) => MAX_DECODED_PER_CHANNEL,
            None => OPUS_FRAME_SAMPLES,
        };
        let mut out = vec![0i16; per_channel * self.channels];
        let n = self
            .inner
            .decode(packet, &mut out[..], false)
            .map_err(|e| CodecError::Decode(format!("opus: {e}")))?;
        out.truncate(n * self.channels);
        Ok(out)
    }
}
