//! What vivid draws, read back from a captured picture: its 75 % colour
//! bars (shared by the V4L2 and the DirectShow camera tests).

use bedside_capture::Picture;

/// Mean (Y, Cb, Cr) at the middle of each of the 8 bars, three quarters of
/// the way down (clear of the text vivid writes at the top).
pub fn bars(p: &Picture) -> [[f64; 3]; 8] {
    let (w, h) = (p.width as usize, p.height as usize);
    let bar = w / 8;
    let row = h * 3 / 4;
    let mut out = [[0.0; 3]; 8];
    for (i, slot) in out.iter_mut().enumerate() {
        let (x0, x1) = (i * bar + bar / 4, i * bar + bar * 3 / 4);
        let (y0, y1) = (row - 8, row + 8);
        let luma = mean((y0..y1).flat_map(|y| (x0..x1).map(move |x| p.y[y * w + x])));
        let cw = w / 2;
        let chroma = |plane: &[u8]| {
            mean((y0 / 2..y1 / 2).flat_map(|y| (x0 / 2..x1 / 2).map(move |x| plane[y * cw + x])))
        };
        *slot = [luma, chroma(&p.u), chroma(&p.v)];
    }
    out
}

fn mean(values: impl Iterator<Item = u8>) -> f64 {
    let (sum, n) = values.fold((0.0, 0.0), |(s, n), v| (s + f64::from(v), n + 1.0));
    sum / n
}

/// 75 % bars in BT.601 limited range: white, yellow, cyan, green, magenta,
/// red, blue, black — luma falling bar by bar (180 → 16) and each bar's
/// chroma on its own side of grey (swapped or misplaced planes fail here).
pub fn check_colour_bars(format: &str, bars: &[[f64; 3]; 8]) {
    let show = || format!("{format}: (Y, Cb, Cr) per bar {bars:?}");
    for pair in bars.windows(2) {
        assert!(pair[0][0] - pair[1][0] >= 10.0, "luma order: {}", show());
    }
    let [white, yellow, cyan, green, magenta, red, blue, black] = *bars;
    for grey in [white, black] {
        assert!(
            (grey[1] - 128.0).abs() <= 8.0 && (grey[2] - 128.0).abs() <= 8.0,
            "grey bars: {}",
            show()
        );
    }
    assert!(yellow[1] < 100.0, "yellow: {}", show());
    assert!(cyan[2] < 100.0, "cyan: {}", show());
    assert!(green[1] < 100.0 && green[2] < 100.0, "green: {}", show());
    assert!(
        magenta[1] > 150.0 && magenta[2] > 150.0,
        "magenta: {}",
        show()
    );
    assert!(red[2] > 160.0, "red: {}", show());
    assert!(blue[1] > 160.0, "blue: {}", show());
}

/// vivid writes its status text over the top rows: a picture that is the
/// right way up has it there, not at the bottom (a bottom-up bitmap read
/// top-down would). Counts the pixels in the top and bottom 48 rows whose
/// luma is more than 40 away from their column's value lower down.
pub fn check_upright(format: &str, p: &Picture) {
    let (w, h) = (p.width as usize, p.height as usize);
    let reference = h * 3 / 4;
    let odd = |rows: std::ops::Range<usize>| {
        rows.flat_map(|y| (0..w).map(move |x| (x, y)))
            .filter(|&(x, y)| p.y[y * w + x].abs_diff(p.y[reference * w + x]) > 40)
            .count()
    };
    let (top, bottom) = (odd(0..48), odd(h - 48..h));
    assert!(
        top > 500 && bottom < 50,
        "{format}: vivid's text should be at the top: {top} odd pixels in the top rows, {bottom} in the bottom rows"
    );
}
