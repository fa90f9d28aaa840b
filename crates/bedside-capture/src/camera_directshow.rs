//! Windows cameras through DirectShow: the system device enumerator lists
//! the video input category; a camera is opened as a filter graph — the
//! camera's capture pin, the Sample Grabber (its callback copies each
//! picture out), the Null Renderer — built and run on a thread of its own.
//!
//! **Why DirectShow, not Media Foundation:** libwebrtc's own Windows
//! capture (and so Firefox's) is DirectShow; it sees every camera Media
//! Foundation sees plus the DirectShow-only virtual cameras; and it is the
//! API we can run here against a real driver — Wine implements DirectShow
//! capture over V4L2, while its Media Foundation lists no camera at all
//! (`tests/camera_windows.rs`; ARCHITECTURE.md).
//!
//! **Threads and COM:** every COM call for an open camera happens on its
//! camera thread (initialised for the multithreaded apartment), so a
//! [`super::Camera`] moves between threads freely and holds no COM pointer;
//! [`cameras`] initialises COM on the calling thread (idempotent). Pictures
//! leave the callback through a newest-wins slot; conversion to I420 runs
//! in [`Inner::next_frame`] on the caller's thread.
//!
//! **Unsafe:** this module is the crate's only `unsafe`: COM calls through
//! the `windows` crate, and the Sample Grabber's interfaces, which the
//! Windows SDK no longer declares (`qedit.h`), declared here.
#![allow(unsafe_code)]
#![allow(non_snake_case)] // COM method names are the SDK's.

use std::ffi::c_void;
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use windows::Win32::Foundation::{E_ACCESSDENIED, E_FAIL, RECT};
use windows::Win32::Media::DirectShow::{
    EC_DEVICE_LOST, EC_ERRORABORT, IAMStreamConfig, IBaseFilter, ICaptureGraphBuilder2,
    ICreateDevEnum, IGraphBuilder, IMediaControl, IMediaEvent, VIDEO_STREAM_CONFIG_CAPS,
};
use windows::Win32::Media::MediaFoundation::{
    AM_MEDIA_TYPE, CLSID_CaptureGraphBuilder2, CLSID_FilterGraph, CLSID_SystemDeviceEnum,
    CLSID_VideoInputDeviceCategory, FORMAT_VideoInfo, MEDIASUBTYPE_I420, MEDIASUBTYPE_IYUV,
    MEDIASUBTYPE_MJPG, MEDIASUBTYPE_NV12, MEDIASUBTYPE_RGB24, MEDIASUBTYPE_YUY2, MEDIATYPE_Video,
    PIN_CATEGORY_CAPTURE, VIDEOINFOHEADER,
};
use windows::Win32::System::Com::StructuredStorage::IPropertyBag;
use windows::Win32::System::Com::{
    CLSCTX_INPROC_SERVER, COINIT_MULTITHREADED, CoCreateInstance, CoInitializeEx, CoTaskMemFree,
    IEnumMoniker, IMoniker,
};
use windows::Win32::System::Variant::{VARIANT, VT_BSTR, VariantClear};
use windows::core::{GUID, HRESULT, IUnknown, IUnknown_Vtbl, Interface, PCWSTR, w};
use windows_core::{BOOL, implement, interface};

use super::{CameraFormat, Offer, choose_offer};
use crate::convert::{self, Picture};
use crate::devices::{DeviceError, DeviceId, DeviceInfo, DeviceKind};

const KIND: DeviceKind = DeviceKind::Camera;

/// How long [`Inner::next_frame`] waits for a picture.
const FRAME_WAIT: Duration = Duration::from_secs(2);

/// qedit's Sample Grabber and Null Renderer (still shipped with Windows;
/// their header left the SDK).
const CLSID_SAMPLE_GRABBER: GUID = GUID::from_u128(0xc1f400a0_3f08_11d3_9f0b_006008039e37);
const CLSID_NULL_RENDERER: GUID = GUID::from_u128(0xc1f400a4_3f08_11d3_9f0b_006008039e37);

/// `ISampleGrabber`, as `qedit.h` declared it.
#[interface("6b652fff-11fe-4fce-92ad-0266b5d7c78f")]
unsafe trait ISampleGrabber: IUnknown {
    fn SetOneShot(&self, one_shot: BOOL) -> HRESULT;
    fn SetMediaType(&self, media_type: *const AM_MEDIA_TYPE) -> HRESULT;
    fn GetConnectedMediaType(&self, media_type: *mut AM_MEDIA_TYPE) -> HRESULT;
    fn SetBufferSamples(&self, buffer: BOOL) -> HRESULT;
    fn GetCurrentBuffer(&self, size: *mut i32, buffer: *mut i32) -> HRESULT;
    fn GetCurrentSample(&self, sample: *mut *mut c_void) -> HRESULT;
    fn SetCallback(&self, callback: *mut c_void, which: i32) -> HRESULT;
}

/// `ISampleGrabberCB`, as `qedit.h` declared it.
#[interface("0579154a-2b53-4994-b0d0-e773148eff85")]
unsafe trait ISampleGrabberCB: IUnknown {
    fn SampleCB(&self, time: f64, sample: *mut c_void) -> HRESULT;
    fn BufferCB(&self, time: f64, buffer: *mut u8, len: i32) -> HRESULT;
}

/// `SetCallback`'s "call `BufferCB`" (0 would be `SampleCB`).
const BUFFER_CB: i32 = 1;

/// The newest picture and what the camera thread saw, shared with the callback.
#[derive(Default)]
struct Slot {
    /// The newest picture not yet taken (older ones were overwritten).
    frame: Option<Vec<u8>>,
    /// Pictures delivered so far.
    delivered: u64,
    /// The graph reported the device lost or the stream aborted.
    lost: bool,
}

#[derive(Default)]
struct Shared {
    slot: Mutex<Slot>,
    fresh: Condvar,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Slot> {
        // A poisoned slot still holds plain bytes and counters.
        self.slot
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[implement(ISampleGrabberCB)]
struct Grabber {
    shared: Arc<Shared>,
}

impl ISampleGrabberCB_Impl for Grabber_Impl {
    unsafe fn SampleCB(&self, _time: f64, _sample: *mut c_void) -> HRESULT {
        HRESULT(0)
    }

    unsafe fn BufferCB(&self, _time: f64, buffer: *mut u8, len: i32) -> HRESULT {
        let Ok(len) = usize::try_from(len) else {
            return HRESULT(0);
        };
        if buffer.is_null() || len == 0 {
            return HRESULT(0);
        }
        // SAFETY: the Sample Grabber hands over `len` readable bytes at
        // `buffer` for the duration of this call (qedit's contract); we copy
        // them out before returning.
        let data = unsafe { std::slice::from_raw_parts(buffer, len) };
        let mut slot = self.shared.lock();
        let mut frame = slot.frame.take().unwrap_or_default();
        frame.clear();
        frame.extend_from_slice(data);
        slot.frame = Some(frame);
        slot.delivered += 1;
        drop(slot);
        self.shared.fresh.notify_all();
        HRESULT(0)
    }
}

/// Joins the multithreaded apartment on this thread (a no-op when already
/// initialised; a thread already in a single-threaded apartment stays in it,
/// where the enumerator works too).
fn com() {
    // SAFETY: no reserved pointer; the result only says whether this thread
    // was initialised before, and either way COM is usable on it.
    let _ = unsafe { CoInitializeEx(None, COINIT_MULTITHREADED) };
}

fn backend(what: &str, e: &windows::core::Error) -> DeviceError {
    let code = e.code();
    // Win32 errors as HRESULTs (0x8007xxxx).
    const NO_SYSTEM_RESOURCES: u32 = 0x8007_05AA;
    const BUSY: u32 = 0x8007_00AA;
    const SHARING_VIOLATION: u32 = 0x8007_0020;
    const DEVICE_NOT_CONNECTED: u32 = 0x8007_048F;
    const NOT_FOUND: u32 = 0x8007_0490;
    const DEVICE_REMOVED: u32 = 0x8007_0651;
    match code.0 as u32 {
        _ if code == E_ACCESSDENIED => DeviceError::Blocked { kind: KIND },
        NO_SYSTEM_RESOURCES | BUSY | SHARING_VIOLATION => DeviceError::Busy { kind: KIND },
        DEVICE_NOT_CONNECTED | NOT_FOUND | DEVICE_REMOVED => DeviceError::Vanished { kind: KIND },
        other => DeviceError::Backend {
            kind: KIND,
            detail: format!("DirectShow could not {what} (0x{other:08X})"),
        },
    }
}

/// [`backend`] for opening or starting a camera that was just listed, where
/// a plain `E_FAIL` is taken as "in use": the capture filter could not get
/// the device (Wine's says so for a camera another process streams from,
/// `tests/camera_windows.rs`), and another application holding it is by far
/// the usual reason — the message then tells the person what to do.
fn opening(what: &str, e: &windows::core::Error) -> DeviceError {
    if e.code() == E_FAIL {
        DeviceError::Busy { kind: KIND }
    } else {
        backend(what, e)
    }
}

/// One video input device, as the enumerator lists it.
struct Listed {
    info: DeviceInfo,
    moniker: IMoniker,
}

fn read_string(bag: &IPropertyBag, name: PCWSTR) -> Option<String> {
    let mut value = VARIANT::default();
    // SAFETY: `value` is an initialised (empty) VARIANT the bag fills in;
    // it is read only as a BSTR after checking its type, then cleared.
    unsafe {
        bag.Read(name, &mut value, None).ok()?;
        let inner = &value.Anonymous.Anonymous;
        let text = (inner.vt == VT_BSTR).then(|| inner.Anonymous.bstrVal.to_string());
        let _ = VariantClear(&mut value);
        text
    }
}

fn list() -> Result<Vec<Listed>, windows::core::Error> {
    com();
    // SAFETY: plain COM calls on this (initialised) thread; every out
    // pointer is a local the call fills in.
    unsafe {
        let devices: ICreateDevEnum =
            CoCreateInstance(&CLSID_SystemDeviceEnum, None, CLSCTX_INPROC_SERVER)?;
        let mut monikers: Option<IEnumMoniker> = None;
        devices.CreateClassEnumerator(&CLSID_VideoInputDeviceCategory, &mut monikers, 0)?;
        // S_FALSE and no enumerator: the category is empty.
        let Some(monikers) = monikers else {
            return Ok(Vec::new());
        };
        let mut out: Vec<Listed> = Vec::new();
        loop {
            let mut next = [None];
            let mut fetched = 0;
            if monikers.Next(&mut next, Some(&mut fetched)).is_err() || fetched == 0 {
                break;
            }
            let Some(moniker) = next[0].take() else { break };
            let Ok(bag) = moniker.BindToStorage::<_, _, IPropertyBag>(None, None) else {
                continue;
            };
            let name = read_string(&bag, w!("FriendlyName")).unwrap_or_else(|| "Camera".into());
            // The device path is stable across reboots and ports; a source
            // without one (a virtual camera, Wine's) is its name and rank.
            let id = match read_string(&bag, w!("DevicePath")) {
                Some(path) => format!("dshow:{path}"),
                None => {
                    let rank = out.iter().filter(|l| l.info.name == name).count();
                    format!("dshow:{name}#{rank}")
                }
            };
            out.push(Listed {
                info: DeviceInfo {
                    id: DeviceId(id),
                    name,
                    kind: KIND,
                    is_default: out.is_empty(),
                },
                moniker,
            });
        }
        Ok(out)
    }
}

pub(super) fn cameras() -> Vec<DeviceInfo> {
    match list() {
        Ok(listed) => listed.into_iter().map(|l| l.info).collect(),
        Err(e) => {
            tracing::debug!(code = e.code().0, "could not list cameras");
            Vec::new()
        }
    }
}

/// What the grabber delivers, read from the connected media type.
#[derive(Clone, Copy, Debug)]
struct Negotiated {
    fourcc: [u8; 4],
    width: u32,
    height: u32,
    stride: usize,
    bottom_up: bool,
}

/// Our name for a DirectShow video subtype.
fn fourcc_of(subtype: &GUID) -> Option<[u8; 4]> {
    Some(match *subtype {
        s if s == MEDIASUBTYPE_YUY2 => *b"YUYV",
        s if s == MEDIASUBTYPE_NV12 => *b"NV12",
        s if s == MEDIASUBTYPE_I420 || s == MEDIASUBTYPE_IYUV => *b"YU12",
        s if s == MEDIASUBTYPE_MJPG => *b"MJPG",
        s if s == MEDIASUBTYPE_RGB24 => *b"BGR3",
        _ => return None,
    })
}

/// An `AM_MEDIA_TYPE` that COM allocated, freed on drop (`DeleteMediaType`).
struct MediaType(*mut AM_MEDIA_TYPE);

impl MediaType {
    /// Its video header, when it has one.
    fn video_info(&self) -> Option<VIDEOINFOHEADER> {
        // SAFETY: `self.0` came from GetStreamCaps and stays valid until drop.
        let mt = unsafe { &*self.0 };
        video_info(mt)
    }
}

fn video_info(mt: &AM_MEDIA_TYPE) -> Option<VIDEOINFOHEADER> {
    if mt.formattype != FORMAT_VideoInfo
        || mt.pbFormat.is_null()
        || (mt.cbFormat as usize) < std::mem::size_of::<VIDEOINFOHEADER>()
    {
        return None;
    }
    // SAFETY: the format block is at least a VIDEOINFOHEADER long (checked
    // above); it may be unaligned, so it is read unaligned.
    Some(unsafe { std::ptr::read_unaligned(mt.pbFormat.cast::<VIDEOINFOHEADER>()) })
}

/// Frees what an `AM_MEDIA_TYPE` owns (its format block and `pUnk`).
fn free_contents(mt: &mut AM_MEDIA_TYPE) {
    if !mt.pbFormat.is_null() {
        // SAFETY: COM allocated the format block with CoTaskMemAlloc.
        unsafe { CoTaskMemFree(Some(mt.pbFormat as *const c_void)) };
        mt.pbFormat = std::ptr::null_mut();
        mt.cbFormat = 0;
    }
    // SAFETY: the media type owned this reference; it is released once.
    unsafe { std::mem::ManuallyDrop::drop(&mut mt.pUnk) };
    mt.pUnk = std::mem::ManuallyDrop::new(None);
}

impl Drop for MediaType {
    fn drop(&mut self) {
        if self.0.is_null() {
            return;
        }
        // SAFETY: `self.0` is a media type COM allocated; its contents and
        // then the struct itself are freed once.
        unsafe {
            free_contents(&mut *self.0);
            CoTaskMemFree(Some(self.0 as *const c_void));
        }
    }
}

/// The stream configuration's offers, with their media types and caps.
fn offers(
    config: &IAMStreamConfig,
) -> Result<Vec<(Offer, MediaType, VIDEO_STREAM_CONFIG_CAPS)>, windows::core::Error> {
    let (mut count, mut size) = (0, 0);
    // SAFETY: out pointers to locals.
    unsafe { config.GetNumberOfCapabilities(&mut count, &mut size)? };
    let caps_len = (size.max(0) as usize).max(std::mem::size_of::<VIDEO_STREAM_CONFIG_CAPS>());
    let mut out = Vec::new();
    for i in 0..count.max(0) {
        let mut caps = vec![0u8; caps_len];
        let mut mt: *mut AM_MEDIA_TYPE = std::ptr::null_mut();
        // SAFETY: `caps` has the size the camera asked for (at least a
        // VIDEO_STREAM_CONFIG_CAPS); `mt` receives a COM allocation we own.
        if unsafe { config.GetStreamCaps(i, &mut mt, caps.as_mut_ptr()) }.is_err() || mt.is_null() {
            continue;
        }
        let mt = MediaType(mt);
        // SAFETY: `caps` holds at least a VIDEO_STREAM_CONFIG_CAPS, maybe unaligned.
        let caps =
            unsafe { std::ptr::read_unaligned(caps.as_ptr().cast::<VIDEO_STREAM_CONFIG_CAPS>()) };
        // SAFETY: `mt.0` is valid until `mt` drops.
        let subtype = unsafe { (*mt.0).subtype };
        let (Some(fourcc), Some(vih)) = (fourcc_of(&subtype), mt.video_info()) else {
            continue;
        };
        let Ok(width) = u32::try_from(vih.bmiHeader.biWidth) else {
            continue;
        };
        let height = vih.bmiHeader.biHeight.unsigned_abs();
        out.push((
            Offer {
                fourcc,
                width,
                height,
            },
            mt,
            caps,
        ));
    }
    Ok(out)
}

/// The graph of an open camera; lives and dies on the camera thread.
struct Graph {
    control: IMediaControl,
    events: IMediaEvent,
    // Kept alive while the graph runs.
    _grabber: ISampleGrabber,
    _callback: ISampleGrabberCB,
}

impl Graph {
    /// Builds and runs the graph for `device`.
    fn start(
        device: &IMoniker,
        want: CameraFormat,
        preference: &[[u8; 4]],
        shared: &Arc<Shared>,
    ) -> Result<(Self, Negotiated), DeviceError> {
        // SAFETY: COM calls on the camera thread, which initialised COM;
        // out pointers are locals; media types we own are freed by
        // `MediaType`/`free_contents`.
        unsafe {
            let source: IBaseFilter = device
                .BindToObject(None, None)
                .map_err(|e| opening("open the camera", &e))?;
            let graph: IGraphBuilder =
                CoCreateInstance(&CLSID_FilterGraph, None, CLSCTX_INPROC_SERVER)
                    .map_err(|e| backend("create a filter graph", &e))?;
            let builder: ICaptureGraphBuilder2 =
                CoCreateInstance(&CLSID_CaptureGraphBuilder2, None, CLSCTX_INPROC_SERVER)
                    .map_err(|e| backend("create a capture graph", &e))?;
            builder
                .SetFiltergraph(&graph)
                .map_err(|e| backend("create a capture graph", &e))?;
            graph
                .AddFilter(&source, w!("camera"))
                .map_err(|e| backend("add the camera", &e))?;

            let mut config: *mut c_void = std::ptr::null_mut();
            builder
                .FindInterface(
                    Some(&PIN_CATEGORY_CAPTURE),
                    Some(&MEDIATYPE_Video),
                    &source,
                    &IAMStreamConfig::IID,
                    &mut config,
                )
                .map_err(|e| backend("read the camera's formats", &e))?;
            let config = IAMStreamConfig::from_raw(config);
            let offered = offers(&config).map_err(|e| backend("read the camera's formats", &e))?;
            let list: Vec<Offer> = offered.iter().map(|(o, _, _)| *o).collect();
            let chosen = choose_offer(&list, want, preference)
                .ok_or(DeviceError::Unsupported { kind: KIND })?;
            let (offer, mt, caps) = &offered[chosen];
            // The frame rate is a wish within what this format allows.
            if let Some(mut vih) = mt.video_info() {
                let wanted = 10_000_000 / i64::from(want.fps.max(1));
                let (min, max) = (caps.MinFrameInterval, caps.MaxFrameInterval);
                if min > 0 && max >= min {
                    vih.AvgTimePerFrame = wanted.clamp(min, max);
                    std::ptr::write_unaligned((*mt.0).pbFormat.cast::<VIDEOINFOHEADER>(), vih);
                }
            }
            config
                .SetFormat(mt.0)
                .map_err(|e| backend("set the camera's format", &e))?;

            let grabber_filter: IBaseFilter =
                CoCreateInstance(&CLSID_SAMPLE_GRABBER, None, CLSCTX_INPROC_SERVER)
                    .map_err(|e| backend("create the Sample Grabber", &e))?;
            let grabber: ISampleGrabber = grabber_filter
                .cast()
                .map_err(|e| backend("create the Sample Grabber", &e))?;
            let accept = AM_MEDIA_TYPE {
                majortype: MEDIATYPE_Video,
                subtype: (*mt.0).subtype,
                formattype: FORMAT_VideoInfo,
                ..Default::default()
            };
            grabber
                .SetMediaType(&accept)
                .ok()
                .map_err(|e| backend("set up the Sample Grabber", &e))?;
            let _ = grabber.SetOneShot(BOOL(0));
            let _ = grabber.SetBufferSamples(BOOL(0));
            let callback: ISampleGrabberCB = Grabber {
                shared: Arc::clone(shared),
            }
            .into();
            grabber
                .SetCallback(callback.as_raw(), BUFFER_CB)
                .ok()
                .map_err(|e| backend("set up the Sample Grabber", &e))?;
            graph
                .AddFilter(&grabber_filter, w!("grabber"))
                .map_err(|e| backend("add the Sample Grabber", &e))?;
            let sink: IBaseFilter =
                CoCreateInstance(&CLSID_NULL_RENDERER, None, CLSCTX_INPROC_SERVER)
                    .map_err(|e| backend("create the Null Renderer", &e))?;
            graph
                .AddFilter(&sink, w!("sink"))
                .map_err(|e| backend("add the Null Renderer", &e))?;
            builder
                .RenderStream(
                    Some(&PIN_CATEGORY_CAPTURE),
                    &MEDIATYPE_Video,
                    &source,
                    &grabber_filter,
                    &sink,
                )
                .map_err(|e| backend("connect the camera", &e))?;

            let mut connected = AM_MEDIA_TYPE::default();
            grabber
                .GetConnectedMediaType(&mut connected)
                .ok()
                .map_err(|e| backend("read the connected format", &e))?;
            let negotiated = negotiated(&connected, offer);
            free_contents(&mut connected);
            let negotiated = negotiated.ok_or(DeviceError::Unsupported { kind: KIND })?;

            let control: IMediaControl =
                graph.cast().map_err(|e| backend("start the camera", &e))?;
            let events: IMediaEvent = graph.cast().map_err(|e| backend("start the camera", &e))?;
            if let Err(e) = control.Run() {
                let _ = control.Stop();
                return Err(opening("start the camera", &e));
            }
            Ok((
                Self {
                    control,
                    events,
                    _grabber: grabber,
                    _callback: callback,
                },
                negotiated,
            ))
        }
    }

    /// Whether the graph reported the device lost or the stream aborted.
    fn lost(&self) -> bool {
        let mut lost = false;
        loop {
            let (mut code, mut p1, mut p2) = (0, 0, 0);
            // SAFETY: out pointers to locals; each event's parameters are
            // freed as IMediaEvent asks.
            unsafe {
                if self
                    .events
                    .GetEvent(&mut code, &mut p1, &mut p2, 0)
                    .is_err()
                {
                    break;
                }
                let _ = self.events.FreeEventParams(code, p1, p2);
            }
            // EC_DEVICE_LOST's second parameter is 0 on removal, 1 on return.
            lost |= (code == EC_DEVICE_LOST as i32 && p2 == 0) || code == EC_ERRORABORT as i32;
        }
        lost
    }
}

impl Drop for Graph {
    fn drop(&mut self) {
        // SAFETY: the graph's own thread stops it before its filters go.
        let _ = unsafe { self.control.Stop() };
    }
}

/// The connected media type's size, stride and orientation.
fn negotiated(mt: &AM_MEDIA_TYPE, offer: &Offer) -> Option<Negotiated> {
    let fourcc = fourcc_of(&mt.subtype).unwrap_or(offer.fourcc);
    let vih = video_info(mt)?;
    let header = vih.bmiHeader;
    let width = u32::try_from(header.biWidth).ok()?;
    let height = header.biHeight.unsigned_abs();
    let RECT { left, right, .. } = vih.rcSource;
    // A source rectangle narrower than the bitmap means padded rows.
    let visible = u32::try_from(right - left)
        .ok()
        .filter(|w| *w > 0 && *w <= width);
    let stride = match &fourcc {
        b"BGR3" => (width as usize * 3).div_ceil(4) * 4,
        b"YUYV" => width as usize * 2,
        _ => width as usize,
    };
    Some(Negotiated {
        fourcc,
        width: visible.unwrap_or(width),
        height,
        stride,
        // Only RGB bitmaps are stored bottom-up (positive height); YUV is top-down.
        bottom_up: fourcc == *b"BGR3" && header.biHeight > 0,
    })
}

pub(super) struct Inner {
    shared: Arc<Shared>,
    negotiated: Negotiated,
    taken: u64,
    id: DeviceId,
    stop: Option<mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

pub(super) fn open(
    id: Option<&DeviceId>,
    want: CameraFormat,
    preference: &[[u8; 4]],
) -> Result<(Inner, DeviceInfo), DeviceError> {
    let shared = Arc::new(Shared::default());
    let (ready_tx, ready_rx) = mpsc::sync_channel(1);
    let (stop_tx, stop_rx) = mpsc::channel::<()>();
    let (id, preference, thread_shared) = (id.cloned(), preference.to_vec(), Arc::clone(&shared));
    let thread = std::thread::Builder::new()
        .name("camera".into())
        .spawn(move || {
            com();
            let started = find(id.as_ref()).and_then(|listed| {
                let (graph, negotiated) =
                    Graph::start(&listed.moniker, want, &preference, &thread_shared)?;
                Ok((graph, negotiated, listed.info))
            });
            let graph = match started {
                Ok((graph, negotiated, info)) => {
                    let _ = ready_tx.send(Ok((negotiated, info)));
                    graph
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            // Until the camera is closed: watch the graph for a lost device.
            while let Err(mpsc::RecvTimeoutError::Timeout) =
                stop_rx.recv_timeout(Duration::from_millis(100))
            {
                if graph.lost() {
                    thread_shared.lock().lost = true;
                    thread_shared.fresh.notify_all();
                }
            }
            drop(graph);
        })
        .map_err(|e| DeviceError::Backend {
            kind: KIND,
            detail: e.to_string(),
        })?;
    let (negotiated, info) = match ready_rx.recv() {
        Ok(Ok(ready)) => ready,
        Ok(Err(e)) => {
            let _ = thread.join();
            return Err(e);
        }
        Err(_) => {
            let _ = thread.join();
            return Err(DeviceError::Backend {
                kind: KIND,
                detail: "the camera thread ended".into(),
            });
        }
    };
    Ok((
        Inner {
            shared,
            negotiated,
            taken: 0,
            id: info.id.clone(),
            stop: Some(stop_tx),
            thread: Some(thread),
        },
        info,
    ))
}

/// The listed camera with `id` (or the first one).
fn find(id: Option<&DeviceId>) -> Result<Listed, DeviceError> {
    let all = list().map_err(|e| backend("list the cameras", &e))?;
    match id {
        None => all.into_iter().next().ok_or(DeviceError::NoCamera),
        Some(_) if all.is_empty() => Err(DeviceError::NoCamera),
        Some(id) => all
            .into_iter()
            .find(|l| &l.info.id == id)
            .ok_or(DeviceError::NotFound { kind: KIND }),
    }
}

impl Inner {
    pub(super) fn size(&self) -> (u32, u32) {
        (self.negotiated.width, self.negotiated.height)
    }

    pub(super) fn pixel_format(&self) -> [u8; 4] {
        self.negotiated.fourcc
    }

    pub(super) fn next_frame(&mut self) -> Result<Picture, DeviceError> {
        let deadline = Instant::now() + FRAME_WAIT;
        let mut slot = self.shared.lock();
        loop {
            if slot.lost {
                return Err(DeviceError::Vanished { kind: KIND });
            }
            if slot.delivered > self.taken
                && let Some(frame) = slot.frame.take()
            {
                self.taken = slot.delivered;
                drop(slot);
                return self.convert(&frame);
            }
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                break;
            };
            slot = self
                .shared
                .fresh
                .wait_timeout(slot, left)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
        drop(slot);
        // No picture in time: a camera that is no longer listed was unplugged.
        if cameras().iter().any(|c| c.id == self.id) {
            Err(DeviceError::Backend {
                kind: KIND,
                detail: "the camera sent no picture for 2 s".into(),
            })
        } else {
            Err(DeviceError::Vanished { kind: KIND })
        }
    }

    fn convert(&self, data: &[u8]) -> Result<Picture, DeviceError> {
        let Negotiated {
            fourcc,
            width: w,
            height: h,
            stride,
            bottom_up,
        } = self.negotiated;
        let picture = match &fourcc {
            b"YUYV" => convert::yuyv_to_i420(data, w, h, stride),
            b"NV12" => convert::nv12_to_i420(data, w, h, stride),
            b"YU12" => convert::i420_copy(data, w, h, stride),
            b"MJPG" => convert::mjpeg_to_i420(data),
            _ => convert::bgr24_to_i420(data, w, h, stride, bottom_up),
        };
        picture.map_err(|e| DeviceError::Backend {
            kind: KIND,
            detail: e.to_string(),
        })
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The camera thread stops and releases the graph (the light goes off).
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
