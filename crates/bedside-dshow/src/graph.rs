//! The COM side of [`crate`]: the device enumerator, the filter graph and
//! its camera thread, and the Sample Grabber's callback. All of the crate's
//! `unsafe` is here, each block with a `// SAFETY:` comment; the Sample
//! Grabber's interfaces, which the SDK no longer declares (`qedit.h`), are
//! declared here.
#![allow(unsafe_code)]
#![allow(non_snake_case)] // COM method names are the SDK's.

use std::ffi::c_void;
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use windows::Win32::Foundation::RECT;
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

use crate::{Device, Error, Format, Negotiated, NextError, Step};

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

/// `e` at `step`, as this crate's [`Error`].
fn com_error(step: Step) -> impl FnOnce(windows::core::Error) -> Error {
    move |e| Error::Com {
        step,
        code: e.code().0 as u32,
    }
}

/// One video input device, as the enumerator lists it.
struct Listed {
    device: Device,
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

/// Serialises this process's use of the device enumerator: listing, and
/// binding a device it listed. Wine's enumerator rewrites its list of
/// devices in the registry on every call, so a listing on the hot-plug
/// watcher's thread while a camera thread lists and binds made a listed
/// camera briefly unknown (seen: `NotFound` for it, once in seven runs of
/// `tests/camera_windows.rs`). Listing is rare and quick, so this costs
/// nothing on Windows either.
static ENUMERATOR: Mutex<()> = Mutex::new(());

fn enumerator() -> std::sync::MutexGuard<'static, ()> {
    // The guard protects no data: a poisoned lock is as good as a fresh one.
    ENUMERATOR
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The listed devices; the caller holds [`enumerator`].
fn list() -> Result<Vec<Listed>, Error> {
    list_com().map_err(com_error(Step::List))
}

fn list_com() -> Result<Vec<Listed>, windows::core::Error> {
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
                Some(path) => path,
                None => {
                    let rank = out.iter().filter(|l| l.device.name == name).count();
                    format!("{name}#{rank}")
                }
            };
            out.push(Listed {
                device: Device { id, name },
                moniker,
            });
        }
        Ok(out)
    }
}

pub(crate) fn devices() -> Result<Vec<Device>, Error> {
    let _enumerator = enumerator();
    Ok(list()?.into_iter().map(|l| l.device).collect())
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
) -> Result<Vec<(Format, MediaType, VIDEO_STREAM_CONFIG_CAPS)>, windows::core::Error> {
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
            Format {
                fourcc,
                width,
                height,
                fps: crate::rate_of(caps.MinFrameInterval),
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
        source: IBaseFilter,
        fps: u32,
        choose: impl FnOnce(&[Format]) -> Option<usize>,
        shared: &Arc<Shared>,
    ) -> Result<(Self, Negotiated), Error> {
        // SAFETY: COM calls on the camera thread, which initialised COM;
        // out pointers are locals; media types we own are freed by
        // `MediaType`/`free_contents`.
        unsafe {
            let graph: IGraphBuilder =
                CoCreateInstance(&CLSID_FilterGraph, None, CLSCTX_INPROC_SERVER)
                    .map_err(com_error(Step::Graph))?;
            let builder: ICaptureGraphBuilder2 =
                CoCreateInstance(&CLSID_CaptureGraphBuilder2, None, CLSCTX_INPROC_SERVER)
                    .map_err(com_error(Step::Graph))?;
            builder
                .SetFiltergraph(&graph)
                .map_err(com_error(Step::Graph))?;
            graph
                .AddFilter(&source, w!("camera"))
                .map_err(com_error(Step::Graph))?;

            let mut config: *mut c_void = std::ptr::null_mut();
            builder
                .FindInterface(
                    Some(&PIN_CATEGORY_CAPTURE),
                    Some(&MEDIATYPE_Video),
                    &source,
                    &IAMStreamConfig::IID,
                    &mut config,
                )
                .map_err(com_error(Step::Formats))?;
            let config = IAMStreamConfig::from_raw(config);
            let offered = offers(&config).map_err(com_error(Step::Formats))?;
            let list: Vec<Format> = offered.iter().map(|(o, _, _)| *o).collect();
            let (offer, mt, caps) = choose(&list)
                .and_then(|i| offered.get(i))
                .ok_or(Error::NoFormat)?;
            // The frame rate is a wish within what this format allows.
            if let Some(mut vih) = mt.video_info() {
                let wanted = 10_000_000 / i64::from(fps.max(1));
                let (min, max) = (caps.MinFrameInterval, caps.MaxFrameInterval);
                if min > 0 && max >= min {
                    vih.AvgTimePerFrame = wanted.clamp(min, max);
                    std::ptr::write_unaligned((*mt.0).pbFormat.cast::<VIDEOINFOHEADER>(), vih);
                }
            }
            config.SetFormat(mt.0).map_err(com_error(Step::Formats))?;

            let grabber_filter: IBaseFilter =
                CoCreateInstance(&CLSID_SAMPLE_GRABBER, None, CLSCTX_INPROC_SERVER)
                    .map_err(com_error(Step::Graph))?;
            let grabber: ISampleGrabber = grabber_filter.cast().map_err(com_error(Step::Graph))?;
            let accept = AM_MEDIA_TYPE {
                majortype: MEDIATYPE_Video,
                subtype: (*mt.0).subtype,
                formattype: FORMAT_VideoInfo,
                ..Default::default()
            };
            grabber
                .SetMediaType(&accept)
                .ok()
                .map_err(com_error(Step::Graph))?;
            let _ = grabber.SetOneShot(BOOL(0));
            let _ = grabber.SetBufferSamples(BOOL(0));
            let callback: ISampleGrabberCB = Grabber {
                shared: Arc::clone(shared),
            }
            .into();
            grabber
                .SetCallback(callback.as_raw(), BUFFER_CB)
                .ok()
                .map_err(com_error(Step::Graph))?;
            graph
                .AddFilter(&grabber_filter, w!("grabber"))
                .map_err(com_error(Step::Graph))?;
            let sink: IBaseFilter =
                CoCreateInstance(&CLSID_NULL_RENDERER, None, CLSCTX_INPROC_SERVER)
                    .map_err(com_error(Step::Graph))?;
            graph
                .AddFilter(&sink, w!("sink"))
                .map_err(com_error(Step::Graph))?;
            builder
                .RenderStream(
                    Some(&PIN_CATEGORY_CAPTURE),
                    &MEDIATYPE_Video,
                    &source,
                    &grabber_filter,
                    &sink,
                )
                .map_err(com_error(Step::Connect))?;

            let mut connected = AM_MEDIA_TYPE::default();
            grabber
                .GetConnectedMediaType(&mut connected)
                .ok()
                .map_err(com_error(Step::Connect))?;
            let negotiated = negotiated(&connected, offer);
            free_contents(&mut connected);
            let negotiated = negotiated.ok_or(Error::NoFormat)?;

            let control: IMediaControl = graph.cast().map_err(com_error(Step::Start))?;
            let events: IMediaEvent = graph.cast().map_err(com_error(Step::Start))?;
            if let Err(e) = control.Run() {
                let _ = control.Stop();
                return Err(com_error(Step::Start)(e));
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
fn negotiated(mt: &AM_MEDIA_TYPE, offer: &Format) -> Option<Negotiated> {
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

/// A started camera: its thread holds the graph until this is dropped.
pub(crate) struct Running {
    shared: Arc<Shared>,
    taken: u64,
    stop: Option<mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Running {
    pub(crate) fn start(
        id: Option<&str>,
        fps: u32,
        choose: impl FnOnce(&[Format]) -> Option<usize> + Send + 'static,
    ) -> Result<(Self, Negotiated, Device), Error> {
        let shared = Arc::new(Shared::default());
        let (ready_tx, ready_rx) = mpsc::sync_channel(1);
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let (id, thread_shared) = (id.map(str::to_owned), Arc::clone(&shared));
        let thread = std::thread::Builder::new()
            .name("camera".into())
            .spawn(move || {
                com();
                let started = open(id.as_deref()).and_then(|(source, device)| {
                    let (graph, negotiated) = Graph::start(source, fps, choose, &thread_shared)?;
                    Ok((graph, negotiated, device))
                });
                let graph = match started {
                    Ok((graph, negotiated, device)) => {
                        let _ = ready_tx.send(Ok((negotiated, device)));
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
            .map_err(|e| Error::Thread(e.to_string()))?;
        let (negotiated, device) = match ready_rx.recv() {
            Ok(Ok(ready)) => ready,
            Ok(Err(e)) => {
                let _ = thread.join();
                return Err(e);
            }
            Err(_) => {
                let _ = thread.join();
                return Err(Error::Thread("it ended before the camera opened".into()));
            }
        };
        Ok((
            Self {
                shared,
                taken: 0,
                stop: Some(stop_tx),
                thread: Some(thread),
            },
            negotiated,
            device,
        ))
    }

    pub(crate) fn next(&mut self, timeout: Duration) -> Result<Vec<u8>, NextError> {
        let deadline = Instant::now() + timeout;
        let mut slot = self.shared.lock();
        loop {
            if slot.lost {
                return Err(NextError::Lost);
            }
            if slot.delivered > self.taken
                && let Some(frame) = slot.frame.take()
            {
                self.taken = slot.delivered;
                return Ok(frame);
            }
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                return Err(NextError::Timeout);
            };
            slot = self
                .shared
                .fresh
                .wait_timeout(slot, left)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // The camera thread stops and releases the graph (the light goes off).
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The capture filter of the listed device `id` (or the first one), listed
/// and bound under [`enumerator`].
fn open(id: Option<&str>) -> Result<(IBaseFilter, Device), Error> {
    let _enumerator = enumerator();
    let listed = find(id)?;
    // SAFETY: a COM call on this (initialised) thread on a moniker it listed.
    let source: IBaseFilter =
        unsafe { listed.moniker.BindToObject(None, None) }.map_err(com_error(Step::Open))?;
    Ok((source, listed.device))
}

/// The listed device with `id` (or the first one); the caller holds
/// [`enumerator`].
fn find(id: Option<&str>) -> Result<Listed, Error> {
    let all = list()?;
    if all.is_empty() {
        return Err(Error::NoDevices);
    }
    match id {
        None => all.into_iter().next().ok_or(Error::NoDevices),
        Some(id) => all
            .into_iter()
            .find(|l| l.device.id == id)
            .ok_or(Error::NotListed),
    }
}
