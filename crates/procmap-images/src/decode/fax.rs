//! CCITT Group 3 (T.4, 1-D and 2-D) and Group 4 (T.6) decoding of TIFF
//! strips, ported from libtiff 4.7 (`tif_fax3.c`, `tif_fax3.h`, and the
//! state tables `tif_fax3sm.c` as `tools/mkg3states.c` builds them), the
//! version inside Pillow 13 (4.7.2) and opencv-python 5.0 (4.7.1; the two
//! do not differ in this codec). Ported rather than replaced, so that
//! damaged data comes out as libtiff makes it:
//!
//! - a bad code word ends the row where it is: the runs so far are kept
//!   and the rest of the row is white (`CLEANUP_RUNS`), and decoding goes
//!   on with the next row. Group 3 looks for the next EOL first (skipping
//!   whatever comes before it); Group 4 has no EOLs and reads on from the
//!   bit after the bad code;
//! - data that ends before the strip does fills the row it was in and
//!   stops: Group 3 then fails the strip (`Fax3Decode1D/2D` return -1),
//!   Group 4 fails it only if it decoded no whole row (`Fax4Decode`); the
//!   rows after stay as they were;
//! - Group 3 data in which an EOL is followed by the end of the data is
//!   read again from the strip's start without EOLs, into the rows still
//!   to decode, and every later strip of the image is read without EOLs
//!   (libtiff 4.7.1's `FAXMODE_NOEOL` retry);
//! - the run arrays are libtiff's: one allocation for the current and the
//!   reference row, kept from strip to strip, so that runs a damaged row
//!   reads past its reference row's end are the ones libtiff reads.
//!
//! The original's notice follows.
//!
//! Copyright (c) 1990-1997 Sam Leffler
//! Copyright (c) 1991-1997 Silicon Graphics, Inc.
//!
//! Permission to use, copy, modify, distribute, and sell this software and
//! its documentation for any purpose is hereby granted without fee, provided
//! that (i) the above copyright notices and this permission notice appear in
//! all copies of the software and related documentation, and (ii) the names of
//! Sam Leffler and Silicon Graphics may not be used in any advertising or
//! publicity relating to the software without the specific, prior written
//! permission of Sam Leffler and Silicon Graphics.
//!
//! THE SOFTWARE IS PROVIDED "AS-IS" AND WITHOUT WARRANTY OF ANY KIND,
//! EXPRESS, IMPLIED OR OTHERWISE, INCLUDING WITHOUT LIMITATION, ANY
//! WARRANTY OF MERCHANTABILITY OR FITNESS FOR A PARTICULAR PURPOSE.
//!
//! IN NO EVENT SHALL SAM LEFFLER OR SILICON GRAPHICS BE LIABLE FOR
//! ANY SPECIAL, INCIDENTAL, INDIRECT OR CONSEQUENTIAL DAMAGES OF ANY KIND,
//! OR ANY DAMAGES WHATSOEVER RESULTING FROM LOSS OF USE, DATA OR PROFITS,
//! WHETHER OR NOT ADVISED OF THE POSSIBILITY OF DAMAGE, AND ON ANY THEORY OF
//! LIABILITY, ARISING OUT OF OR IN CONNECTION WITH THE USE OR PERFORMANCE
//! OF THIS SOFTWARE.
//!
//! libtiff's decoder is derived, with permission, from the code in Frank
//! Cringle's viewfax program; Copyright (C) 1990, 1995 Frank D. Cringle.

use std::sync::OnceLock;

/// Which codec a strip is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// Compression 3 without 2-D coding (`Fax3Decode1D`).
    G3OneD,
    /// Compression 3 with Group3Options bit 0 (`Fax3Decode2D`).
    G3TwoD,
    /// Compression 4 (`Fax4Decode`).
    G4,
    /// Compression 2, CCITT modified Huffman run lengths (`Fax3DecodeRLE`):
    /// 1-D rows with no EOL codes, each row starting on a byte.
    Rle,
}

// State machine codes (`tif_fax3.h`; 0 is `S_Null`, an invalid code).
const S_PASS: u8 = 1;
const S_HORIZ: u8 = 2;
const S_V0: u8 = 3;
const S_VR: u8 = 4;
const S_VL: u8 = 5;
const S_EXT: u8 = 6;
const S_TERM_W: u8 = 7;
const S_TERM_B: u8 = 8;
const S_MAKE_UP_W: u8 = 9;
const S_MAKE_UP_B: u8 = 10;
const S_MAKE_UP: u8 = 11;
const S_EOL: u8 = 12;

#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
struct Entry {
    state: u8,
    width: u8,
    param: u32,
}

struct Tables {
    main: [Entry; 128],
    white: Vec<Entry>,
    black: Vec<Entry>,
}

/// `(code, val)`: the code right-justified, LSB first; `val` is the pixel
/// count << 4 plus the code's width (`mkg3states.c`'s `struct proto`).
type Proto = &'static [(u16, u16)];

const PASS: Proto = &[(0x0008, 4)];
const HORIZ: Proto = &[(0x0004, 3)];
const V0: Proto = &[(0x0001, 1)];
const VR: Proto = &[(0x0006, (1 << 4) + 3), (0x0030, (2 << 4) + 6), (0x0060, (3 << 4) + 7)];
const VL: Proto = &[(0x0002, (1 << 4) + 3), (0x0010, (2 << 4) + 6), (0x0020, (3 << 4) + 7)];
const EXT: Proto = &[(0x0040, 7)];
const EOLV: Proto = &[(0x0000, 7)];
const MAKE_UP_W: Proto = &[
    (0x001b, 1029),
    (0x0009, 2053),
    (0x003a, 3078),
    (0x0076, 4103),
    (0x006c, 5128),
    (0x00ec, 6152),
    (0x0026, 7176),
    (0x00a6, 8200),
    (0x0016, 9224),
    (0x00e6, 10248),
    (0x0066, 11273),
    (0x0166, 12297),
    (0x0096, 13321),
    (0x0196, 14345),
    (0x0056, 15369),
    (0x0156, 16393),
    (0x00d6, 17417),
    (0x01d6, 18441),
    (0x0036, 19465),
    (0x0136, 20489),
    (0x00b6, 21513),
    (0x01b6, 22537),
    (0x0032, 23561),
    (0x0132, 24585),
    (0x00b2, 25609),
    (0x0006, 26630),
    (0x01b2, 27657),
];
const MAKE_UP_B: Proto = &[
    (0x03c0, 1034),
    (0x0130, 2060),
    (0x0930, 3084),
    (0x0da0, 4108),
    (0x0cc0, 5132),
    (0x02c0, 6156),
    (0x0ac0, 7180),
    (0x06c0, 8205),
    (0x16c0, 9229),
    (0x0a40, 10253),
    (0x1a40, 11277),
    (0x0640, 12301),
    (0x1640, 13325),
    (0x09c0, 14349),
    (0x19c0, 15373),
    (0x05c0, 16397),
    (0x15c0, 17421),
    (0x0dc0, 18445),
    (0x1dc0, 19469),
    (0x0940, 20493),
    (0x1940, 21517),
    (0x0540, 22541),
    (0x1540, 23565),
    (0x0b40, 24589),
    (0x1b40, 25613),
    (0x04c0, 26637),
    (0x14c0, 27661),
];
const MAKE_UP: Proto = &[
    (0x0080, 28683),
    (0x0180, 29707),
    (0x0580, 30731),
    (0x0480, 31756),
    (0x0c80, 32780),
    (0x0280, 33804),
    (0x0a80, 34828),
    (0x0680, 35852),
    (0x0e80, 36876),
    (0x0380, 37900),
    (0x0b80, 38924),
    (0x0780, 39948),
    (0x0f80, 40972),
];
const TERM_W: Proto = &[
    (0x00ac, 8),
    (0x0038, 22),
    (0x000e, 36),
    (0x0001, 52),
    (0x000d, 68),
    (0x0003, 84),
    (0x0007, 100),
    (0x000f, 116),
    (0x0019, 133),
    (0x0005, 149),
    (0x001c, 165),
    (0x0002, 181),
    (0x0004, 198),
    (0x0030, 214),
    (0x000b, 230),
    (0x002b, 246),
    (0x0015, 262),
    (0x0035, 278),
    (0x0072, 295),
    (0x0018, 311),
    (0x0008, 327),
    (0x0074, 343),
    (0x0060, 359),
    (0x0010, 375),
    (0x000a, 391),
    (0x006a, 407),
    (0x0064, 423),
    (0x0012, 439),
    (0x000c, 455),
    (0x0040, 472),
    (0x00c0, 488),
    (0x0058, 504),
    (0x00d8, 520),
    (0x0048, 536),
    (0x00c8, 552),
    (0x0028, 568),
    (0x00a8, 584),
    (0x0068, 600),
    (0x00e8, 616),
    (0x0014, 632),
    (0x0094, 648),
    (0x0054, 664),
    (0x00d4, 680),
    (0x0034, 696),
    (0x00b4, 712),
    (0x0020, 728),
    (0x00a0, 744),
    (0x0050, 760),
    (0x00d0, 776),
    (0x004a, 792),
    (0x00ca, 808),
    (0x002a, 824),
    (0x00aa, 840),
    (0x0024, 856),
    (0x00a4, 872),
    (0x001a, 888),
    (0x009a, 904),
    (0x005a, 920),
    (0x00da, 936),
    (0x0052, 952),
    (0x00d2, 968),
    (0x004c, 984),
    (0x00cc, 1000),
    (0x002c, 1016),
];
const TERM_B: Proto = &[
    (0x03b0, 10),
    (0x0002, 19),
    (0x0003, 34),
    (0x0001, 50),
    (0x0006, 67),
    (0x000c, 84),
    (0x0004, 100),
    (0x0018, 117),
    (0x0028, 134),
    (0x0008, 150),
    (0x0010, 167),
    (0x0050, 183),
    (0x0070, 199),
    (0x0020, 216),
    (0x00e0, 232),
    (0x0030, 249),
    (0x03a0, 266),
    (0x0060, 282),
    (0x0040, 298),
    (0x0730, 315),
    (0x00b0, 331),
    (0x01b0, 347),
    (0x0760, 363),
    (0x00a0, 379),
    (0x0740, 395),
    (0x00c0, 411),
    (0x0530, 428),
    (0x0d30, 444),
    (0x0330, 460),
    (0x0b30, 476),
    (0x0160, 492),
    (0x0960, 508),
    (0x0560, 524),
    (0x0d60, 540),
    (0x04b0, 556),
    (0x0cb0, 572),
    (0x02b0, 588),
    (0x0ab0, 604),
    (0x06b0, 620),
    (0x0eb0, 636),
    (0x0360, 652),
    (0x0b60, 668),
    (0x05b0, 684),
    (0x0db0, 700),
    (0x02a0, 716),
    (0x0aa0, 732),
    (0x06a0, 748),
    (0x0ea0, 764),
    (0x0260, 780),
    (0x0a60, 796),
    (0x04a0, 812),
    (0x0ca0, 828),
    (0x0240, 844),
    (0x0ec0, 860),
    (0x01c0, 876),
    (0x0e40, 892),
    (0x0140, 908),
    (0x01a0, 924),
    (0x09a0, 940),
    (0x0d40, 956),
    (0x0340, 972),
    (0x05a0, 988),
    (0x0660, 1004),
    (0x0e60, 1020),
];
const EOLH: Proto = &[(0x0000, 11)];

/// `mkg3states.c`'s `FillTable`: every index whose low bits are a code
/// gets its entry; later codes overwrite earlier ones; the rest stay
/// `{S_Null, 0, 0}`.
fn fill_table(t: &mut [Entry], protos: Proto, state: u8) {
    for &(code, val) in protos {
        let width = val & 15;
        let param = u32::from(val >> 4);
        let mut i = usize::from(code);
        while i < t.len() {
            t[i] = Entry { state, width: width as u8, param };
            i += 1 << width;
        }
    }
}

fn tables() -> &'static Tables {
    static T: OnceLock<Tables> = OnceLock::new();
    T.get_or_init(|| {
        let mut main = [Entry::default(); 128];
        let mut white = vec![Entry::default(); 4096];
        let mut black = vec![Entry::default(); 8192];
        fill_table(&mut main, PASS, S_PASS);
        fill_table(&mut main, HORIZ, S_HORIZ);
        fill_table(&mut main, V0, S_V0);
        fill_table(&mut main, VR, S_VR);
        fill_table(&mut main, VL, S_VL);
        fill_table(&mut main, EXT, S_EXT);
        fill_table(&mut main, EOLV, S_EOL);
        fill_table(&mut white, MAKE_UP_W, S_MAKE_UP_W);
        fill_table(&mut white, MAKE_UP, S_MAKE_UP);
        fill_table(&mut white, TERM_W, S_TERM_W);
        fill_table(&mut white, EOLH, S_EOL);
        fill_table(&mut black, MAKE_UP_B, S_MAKE_UP_B);
        fill_table(&mut black, MAKE_UP, S_MAKE_UP);
        fill_table(&mut black, TERM_B, S_TERM_B);
        fill_table(&mut black, EOLH, S_EOL);
        Tables { main, white, black }
    })
}

/// Why a row's decoding left the normal path.
enum Stop {
    /// The data ran out (`goto eoflab` after `prematureEOF`).
    Eof,
    /// A run array would overflow: libtiff returns -1 at once.
    Overflow,
    /// `SYNC_EOL` found an EOL and then the end of the data.
    NoEol,
}

/// One image's decoder state (libtiff's `Fax3CodecState`), kept across
/// its strips as libtiff keeps it for a TIFF handle.
pub struct Fax {
    scheme: Scheme,
    /// Pixels in a row (`rowpixels`, `lastx`).
    width: usize,
    /// Bytes in a decoded row.
    pub row_bytes: usize,
    nruns: usize,
    /// `runs`: `2 * nruns` entries (plus one: `_TIFFFax3fillruns` may
    /// write one past a full row's runs).
    runs: Vec<u32>,
    curruns: usize,
    refruns: usize,
    /// `FAXMODE_NOEOL`, set for good by the retry without EOLs.
    no_eol: bool,
}

impl Fax {
    /// `Fax3SetupState` for a strip image `width` pixels wide.
    pub fn new(scheme: Scheme, width: u32) -> Result<Fax, String> {
        let width = width as usize;
        if width == 0 {
            return Err("tiff: fax image of width 0".into());
        }
        let mut nruns = (width + 1).div_ceil(32) * 32;
        if matches!(scheme, Scheme::G3TwoD | Scheme::G4) {
            nruns *= 2;
        }
        Ok(Fax {
            scheme,
            width,
            row_bytes: width.div_ceil(8),
            nruns,
            runs: vec![0; 2 * nruns + 1],
            curruns: 0,
            refruns: nruns,
            no_eol: false,
        })
    }

    /// libtiff's `TIFFReadEncodedStrip` for one strip: `Fax3PreDecode`,
    /// then the codec's decode of `raw` into `buf` (whole rows, packed,
    /// MSB first, 1 = black), FillOrder 1. Returns whether libtiff reports
    /// success; on failure `buf` holds what libtiff left in it.
    pub fn decode_strip(&mut self, raw: &[u8], buf: &mut [u8]) -> bool {
        // Fax3PreDecode
        self.curruns = 0;
        if matches!(self.scheme, Scheme::G3TwoD | Scheme::G4) {
            self.refruns = self.nruns;
            self.runs[self.refruns] = self.width as u32;
            self.runs[self.refruns + 1] = 0;
        }
        if self.row_bytes == 0 || !buf.len().is_multiple_of(self.row_bytes) {
            return false;
        }
        let mut d = Row {
            fax: self,
            bits: Bits { raw, cp: 0, acc: 0, avail: 0 },
            a0: 0,
            run_length: 0,
            pa: 0,
            thisrun: 0,
            pb: 0,
            b1: 0,
            eolcnt: 0,
        };
        match d.fax.scheme {
            Scheme::G3OneD | Scheme::G3TwoD => d.decode_g3(buf),
            Scheme::G4 => d.decode_g4(buf),
            Scheme::Rle => d.decode_rle(buf),
        }
    }
}

/// The bit reader (`NeedBits8`, `NeedBits16`, `GetBits`, `ClrBits`):
/// LSB-first in `acc`, as libtiff's `bitmap` reversal leaves it.
struct Bits<'a> {
    raw: &'a [u8],
    cp: usize,
    acc: u32,
    avail: i32,
}

impl Bits<'_> {
    fn next_byte(&mut self) -> u32 {
        let b = u32::from(self.raw[self.cp].reverse_bits());
        self.cp += 1;
        b
    }

    fn end(&self) -> bool {
        self.cp >= self.raw.len()
    }

    /// `NeedBits8`: false where libtiff jumps to its end-of-data label.
    fn need8(&mut self, n: i32) -> bool {
        if self.avail < n {
            if self.end() {
                if self.avail == 0 {
                    return false;
                }
                self.avail = n; // pad with zeros
            } else {
                self.acc |= self.next_byte().wrapping_shl(self.avail as u32);
                self.avail += 8;
            }
        }
        true
    }

    /// `NeedBits16`.
    fn need16(&mut self, n: i32) -> bool {
        if self.avail < n {
            if self.end() {
                if self.avail == 0 {
                    return false;
                }
                self.avail = n;
            } else {
                self.acc |= self.next_byte().wrapping_shl(self.avail as u32);
                self.avail += 8;
                if self.avail < n {
                    if self.end() {
                        self.avail = n;
                    } else {
                        self.acc |= self.next_byte().wrapping_shl(self.avail as u32);
                        self.avail += 8;
                    }
                }
            }
        }
        true
    }

    fn get(&self, n: u32) -> u32 {
        self.acc & ((1u32 << n) - 1)
    }

    fn clr(&mut self, n: i32) {
        self.avail -= n;
        self.acc = self.acc.wrapping_shr(n as u32);
    }
}

/// The locals of libtiff's decode functions (`DECLARE_STATE_2D`); run
/// array positions are indices into `fax.runs`.
struct Row<'f, 'a> {
    fax: &'f mut Fax,
    bits: Bits<'a>,
    a0: i32,
    run_length: i32,
    pa: usize,
    thisrun: usize,
    /// May step below `refruns` on damaged data (`*--pb`): signed.
    pb: isize,
    b1: i32,
    eolcnt: i32,
}

impl Row<'_, '_> {
    fn lastx(&self) -> i32 {
        self.fax.width as i32
    }

    /// `*pb`; 0 outside the allocation, where libtiff's read is undefined.
    fn at_pb(&self, k: isize) -> u32 {
        usize::try_from(self.pb + k).ok().and_then(|i| self.fax.runs.get(i)).copied().unwrap_or(0)
    }

    fn ref_end(&self) -> isize {
        (self.fax.refruns + self.fax.nruns) as isize
    }

    /// `SETVALUE`.
    fn setvalue(&mut self, x: u32) -> Result<(), Stop> {
        if self.pa >= self.thisrun + self.fax.nruns {
            return Err(Stop::Overflow);
        }
        self.fax.runs[self.pa] = (self.run_length as u32).wrapping_add(x);
        self.pa += 1;
        self.a0 = self.a0.wrapping_add(x as i32);
        self.run_length = 0;
        Ok(())
    }

    /// `LOOKUP8` / `LOOKUP16`: `None` at the end of the data.
    fn lookup(&mut self, wid: u32, table: &[Entry], sixteen: bool) -> Option<Entry> {
        let ok = if sixteen { self.bits.need16(wid as i32) } else { self.bits.need8(wid as i32) };
        if !ok {
            return None;
        }
        let e = table[self.bits.get(wid) as usize];
        self.bits.clr(i32::from(e.width));
        Some(e)
    }

    fn add_run(&mut self, param: u32) {
        self.a0 = (self.a0 as u32).wrapping_add(param) as i32;
        self.run_length = (self.run_length as u32).wrapping_add(param) as i32;
    }

    /// `CLEANUP_RUNS`.
    fn cleanup_runs(&mut self) -> Result<(), Stop> {
        let lastx = self.lastx();
        if self.run_length != 0 {
            self.setvalue(0)?;
        }
        if self.a0 != lastx {
            while self.a0 > lastx && self.pa > self.thisrun {
                self.pa -= 1;
                self.a0 = self.a0.wrapping_sub(self.fax.runs[self.pa] as i32);
            }
            if self.a0 < lastx {
                if self.a0 < 0 {
                    self.a0 = 0;
                }
                if (self.pa - self.thisrun) & 1 == 1 {
                    self.setvalue(0)?;
                }
                self.setvalue((lastx - self.a0) as u32)?;
            } else if self.a0 > lastx {
                self.setvalue(lastx as u32)?;
                self.setvalue(0)?;
            }
        }
        Ok(())
    }

    /// `SYNC_EOL`.
    fn sync_eol(&mut self) -> Result<(), Stop> {
        if self.fax.no_eol {
            return Ok(());
        }
        if self.eolcnt == 0 {
            loop {
                if !self.bits.need16(11) {
                    return Err(Stop::Eof);
                }
                if self.bits.get(11) == 0 {
                    break;
                }
                self.bits.clr(1);
            }
        }
        loop {
            if !self.bits.need8(8) {
                return Err(Stop::NoEol);
            }
            if self.bits.get(8) != 0 {
                break;
            }
            self.bits.clr(8);
        }
        while self.bits.get(1) == 0 {
            self.bits.clr(1);
        }
        self.bits.clr(1);
        self.eolcnt = 0;
        Ok(())
    }

    /// One colour's run of `EXPAND1D`: `Ok(true)` after its terminating
    /// code, `Ok(false)` where libtiff goes to `done1d` (an EOL or a bad
    /// code), `Err(Eof)` for `eof1d`.
    fn run_1d(&mut self, black: bool) -> Result<bool, Stop> {
        let t = tables();
        let (table, wid, term, make_up) = if black {
            (&t.black[..], 13, S_TERM_B, S_MAKE_UP_B)
        } else {
            (&t.white[..], 12, S_TERM_W, S_MAKE_UP_W)
        };
        loop {
            let Some(e) = self.lookup(wid, table, true) else { return Err(Stop::Eof) };
            match e.state {
                S_EOL => {
                    self.eolcnt = 1;
                    return Ok(false);
                }
                s if s == term => {
                    self.setvalue(e.param)?;
                    return Ok(true);
                }
                s if s == make_up || s == S_MAKE_UP => self.add_run(e.param),
                _ => return Ok(false), // unexpected
            }
        }
    }

    /// `EXPAND1D`: `Err(Eof)` after the runs were cleaned up (libtiff's
    /// `goto eoflab`).
    fn expand_1d(&mut self) -> Result<(), Stop> {
        let lastx = self.lastx();
        let body = (|| -> Result<(), Stop> {
            loop {
                if !self.run_1d(false)? || self.a0 >= lastx {
                    return Ok(());
                }
                if !self.run_1d(true)? || self.a0 >= lastx {
                    return Ok(());
                }
                if self.fax.runs[self.pa - 1] == 0 && self.fax.runs[self.pa - 2] == 0 {
                    self.pa -= 2;
                }
            }
        })();
        match body {
            Ok(()) => self.cleanup_runs(),
            Err(Stop::Eof) => {
                self.cleanup_runs()?;
                Err(Stop::Eof)
            }
            Err(e) => Err(e),
        }
    }

    /// `CHECK_b1`.
    fn check_b1(&mut self) -> Result<(), Stop> {
        if self.pa != self.thisrun {
            while self.b1 <= self.a0 && self.b1 < self.lastx() {
                if self.pb + 1 >= self.ref_end() {
                    return Err(Stop::Overflow);
                }
                let s = self.at_pb(0).wrapping_add(self.at_pb(1));
                self.b1 = self.b1.wrapping_add(s as i32);
                self.pb += 2;
            }
        }
        Ok(())
    }

    /// `*pb++`.
    fn next_pb(&mut self) -> i32 {
        let v = self.at_pb(0) as i32;
        self.pb += 1;
        v
    }

    /// One colour's run in horizontal mode: `Ok(false)` for a bad code
    /// (libtiff's `badBlack2d` / `badWhite2d`).
    fn run_2d(&mut self, black: bool) -> Result<bool, Stop> {
        let t = tables();
        let (table, wid, term, make_up) = if black {
            (&t.black[..], 13, S_TERM_B, S_MAKE_UP_B)
        } else {
            (&t.white[..], 12, S_TERM_W, S_MAKE_UP_W)
        };
        loop {
            let Some(e) = self.lookup(wid, table, true) else { return Err(Stop::Eof) };
            match e.state {
                s if s == term => {
                    self.setvalue(e.param)?;
                    return Ok(true);
                }
                s if s == make_up || s == S_MAKE_UP => self.add_run(e.param),
                _ => return Ok(false),
            }
        }
    }

    /// The loop of `EXPAND2D` up to `eol2d`.
    fn expand_2d_body(&mut self) -> Result<(), Stop> {
        let t = tables();
        let lastx = self.lastx();
        while self.a0 < lastx {
            if self.pa >= self.thisrun + self.fax.nruns {
                return Err(Stop::Overflow);
            }
            let Some(e) = self.lookup(7, &t.main, false) else { return Err(Stop::Eof) };
            match e.state {
                S_PASS => {
                    self.check_b1()?;
                    if self.pb + 1 >= self.ref_end() {
                        return Err(Stop::Overflow);
                    }
                    self.b1 = self.b1.wrapping_add(self.next_pb());
                    self.run_length =
                        (self.run_length as u32).wrapping_add(self.b1.wrapping_sub(self.a0) as u32) as i32;
                    self.a0 = self.b1;
                    self.b1 = self.b1.wrapping_add(self.next_pb());
                }
                S_HORIZ => {
                    let black_first = (self.pa - self.thisrun) & 1 == 1;
                    if !self.run_2d(black_first)? || !self.run_2d(!black_first)? {
                        return Ok(()); // unexpected: eol2d
                    }
                    self.check_b1()?;
                }
                S_V0 | S_VR => {
                    self.check_b1()?;
                    let d = self.b1.wrapping_sub(self.a0) as u32;
                    self.setvalue(if e.state == S_V0 { d } else { d.wrapping_add(e.param) })?;
                    if self.pb >= self.ref_end() {
                        return Err(Stop::Overflow);
                    }
                    self.b1 = self.b1.wrapping_add(self.next_pb());
                }
                S_VL => {
                    self.check_b1()?;
                    if self.b1 < (self.a0 as u32).wrapping_add(e.param) as i32 {
                        return Ok(()); // unexpected: eol2d
                    }
                    self.setvalue((self.b1.wrapping_sub(self.a0) as u32).wrapping_sub(e.param))?;
                    self.pb -= 1;
                    self.b1 = self.b1.wrapping_sub(self.at_pb(0) as i32);
                }
                S_EXT => {
                    self.fax.runs[self.pa] = lastx.wrapping_sub(self.a0) as u32;
                    self.pa += 1;
                    return Ok(());
                }
                S_EOL => {
                    self.fax.runs[self.pa] = lastx.wrapping_sub(self.a0) as u32;
                    self.pa += 1;
                    if !self.bits.need8(4) {
                        return Err(Stop::Eof);
                    }
                    self.bits.clr(4);
                    self.eolcnt = 1;
                    return Ok(());
                }
                _ => return Ok(()), // badMain2d
            }
        }
        if self.run_length != 0 {
            if self.run_length.wrapping_add(self.a0) < lastx {
                // expect a final V0
                if !self.bits.need8(1) {
                    return Err(Stop::Eof);
                }
                if self.bits.get(1) == 0 {
                    return Ok(()); // badMain2d
                }
                self.bits.clr(1);
            }
            self.setvalue(0)?;
        }
        Ok(())
    }

    /// `EXPAND2D`, with `CLEANUP_RUNS` at `eol2d` and at `eof2d`.
    fn expand_2d(&mut self) -> Result<(), Stop> {
        match self.expand_2d_body() {
            Ok(()) => self.cleanup_runs(),
            Err(Stop::Eof) => {
                self.cleanup_runs()?;
                Err(Stop::Eof)
            }
            Err(e) => Err(e),
        }
    }

    /// `(*sp->fill)(buf, thisrun, pa, lastx)`.
    fn fill(&mut self, row: &mut [u8]) {
        fill_runs(row, &mut self.fax.runs, self.thisrun, self.pa, self.fax.width as u32);
    }

    /// `Fax3Decode1D` and `Fax3Decode2D`.
    fn decode_g3(&mut self, buf: &mut [u8]) -> bool {
        let two_d = self.fax.scheme == Scheme::G3TwoD;
        let row_bytes = self.fax.row_bytes;
        let mut y = 0;
        // RETRY_WITHOUT_EOL: CACHE_STATE reloads the state the call began
        // with; the rows already decoded stay.
        'retry: loop {
            self.bits.cp = 0;
            self.bits.acc = 0;
            self.bits.avail = 0;
            self.eolcnt = 0;
            while y < buf.len() / row_bytes {
                self.a0 = 0;
                self.run_length = 0;
                self.thisrun = self.fax.curruns;
                self.pa = self.thisrun;
                let row = &mut buf[y * row_bytes..(y + 1) * row_bytes];
                match self.sync_eol() {
                    Ok(()) => {}
                    Err(Stop::NoEol) => {
                        self.fax.no_eol = true;
                        continue 'retry;
                    }
                    Err(_) => {
                        // EOF1D / EOF2D
                        if self.cleanup_runs().is_ok() {
                            self.fill(row);
                        }
                        return false;
                    }
                }
                let expanded = if two_d {
                    if !self.bits.need8(1) {
                        if self.cleanup_runs().is_ok() {
                            self.fill(row);
                        }
                        return false;
                    }
                    let is_1d = self.bits.get(1) == 1;
                    self.bits.clr(1);
                    self.pb = self.fax.refruns as isize;
                    self.b1 = self.next_pb();
                    if is_1d { self.expand_1d() } else { self.expand_2d() }
                } else {
                    self.expand_1d()
                };
                match expanded {
                    Ok(()) => {}
                    Err(Stop::Eof) => {
                        self.fill(row);
                        return false;
                    }
                    Err(_) => return false,
                }
                self.fill(row);
                if two_d {
                    if self.pa < self.thisrun + self.fax.nruns && self.setvalue(0).is_err() {
                        return false;
                    }
                    std::mem::swap(&mut self.fax.curruns, &mut self.fax.refruns);
                }
                y += 1;
            }
            return true;
        }
    }

    /// `Fax3DecodeRLE` (FAXMODE_BYTEALIGN: the bits left in the current
    /// byte are dropped after each row).
    fn decode_rle(&mut self, buf: &mut [u8]) -> bool {
        let row_bytes = self.fax.row_bytes;
        for y in 0..buf.len() / row_bytes {
            self.a0 = 0;
            self.run_length = 0;
            self.thisrun = self.fax.curruns;
            self.pa = self.thisrun;
            let row = &mut buf[y * row_bytes..(y + 1) * row_bytes];
            match self.expand_1d() {
                Ok(()) => self.fill(row),
                Err(Stop::Eof) => {
                    self.fill(row);
                    return false;
                }
                Err(_) => return false,
            }
            let n = self.bits.avail % 8;
            self.bits.clr(n);
        }
        true
    }

    /// `Fax4Decode`.
    fn decode_g4(&mut self, buf: &mut [u8]) -> bool {
        let row_bytes = self.fax.row_bytes;
        let rows = buf.len() / row_bytes;
        let mut y = 0;
        while y < rows {
            self.a0 = 0;
            self.run_length = 0;
            self.thisrun = self.fax.curruns;
            self.pa = self.thisrun;
            self.pb = self.fax.refruns as isize;
            self.b1 = self.next_pb();
            let row = &mut buf[y * row_bytes..(y + 1) * row_bytes];
            let end = match self.expand_2d() {
                Ok(()) => self.eolcnt != 0,
                Err(Stop::Eof) => true,
                Err(_) => return false,
            };
            if end {
                // EOFG4: skip what should be the EOFB, fill this row, stop.
                let _ = self.bits.need16(13);
                self.bits.clr(13);
                self.fill(row);
                return y != 0; // don't error on badly-terminated strips
            }
            self.fill(row);
            if self.setvalue(0).is_err() {
                return false;
            }
            std::mem::swap(&mut self.fax.curruns, &mut self.fax.refruns);
            y += 1;
        }
        true
    }
}

/// `_TIFFFax3fillruns`: sets the row's bits from its runs (white, black,
/// white, ...), clamping runs that pass the row's end in the run array
/// itself, as libtiff does (the next row reads them as its reference).
/// Bits past the last run are left as they were.
fn fill_runs(buf: &mut [u8], runs: &mut [u32], start: usize, mut end: usize, lastx: u32) {
    const MASKS: [u8; 9] = [0x00, 0x80, 0xc0, 0xe0, 0xf0, 0xf8, 0xfc, 0xfe, 0xff];
    if (end - start) & 1 == 1 {
        runs[end] = 0;
        end += 1;
    }
    let mut x: u32 = 0;
    let mut i = start;
    while i < end {
        for (k, black) in [(0, false), (1, true)] {
            let mut run = runs[i + k];
            if x.wrapping_add(run) > lastx || run > lastx {
                run = lastx.wrapping_sub(x);
                runs[i + k] = run;
            }
            if run == 0 {
                continue;
            }
            let mut cp = (x >> 3) as usize;
            let bx = x & 7;
            if run > 8 - bx {
                if bx != 0 {
                    // align to a byte boundary
                    if black {
                        buf[cp] |= 0xff >> bx;
                    } else {
                        buf[cp] &= 0xffu8.wrapping_shl(8 - bx);
                    }
                    cp += 1;
                    run -= 8 - bx;
                }
                let n = (run >> 3) as usize;
                if n != 0 {
                    buf[cp..cp + n].fill(if black { 0xff } else { 0 });
                    cp += n;
                    run &= 7;
                }
                if run != 0 {
                    if black {
                        buf[cp] |= (0xff00u32 >> run) as u8;
                    } else {
                        buf[cp] &= 0xff >> run;
                    }
                }
            } else if black {
                buf[cp] |= MASKS[run as usize] >> bx;
            } else {
                buf[cp] &= !(MASKS[run as usize] >> bx);
            }
            x = x.wrapping_add(runs[i + k]);
        }
        i += 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// FNV-1a over (state, width, param as 4 little-endian bytes) of every
    /// entry of the main, white and black tables, in that order, computed
    /// from libtiff 4.7.2's generated `tif_fax3sm.c`.
    const TABLES_FNV: u64 = 0xdc503109c88fd801;

    #[test]
    fn state_tables_are_libtiffs() {
        let t = tables();
        let mut h: u64 = 0xcbf29ce484222325;
        for e in t.main.iter().chain(&t.white).chain(&t.black) {
            for b in [e.state, e.width].into_iter().chain(e.param.to_le_bytes()) {
                h = (h ^ u64::from(b)).wrapping_mul(0x100000001b3);
            }
        }
        assert_eq!(h, TABLES_FNV);
    }
}
