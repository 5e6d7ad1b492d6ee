"""DICOM radiographs through the one decoder: every grayscale step checked against the standard's formulas
computed here with numpy, every compressed syntax the installed plugins decode, and every file that cannot
be shown skipped with its reason. Files are tiny real DICOMs written by pydicom (tests/dicom_files.py)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydicom import dcmread, uid
from pydicom.pixels import get_decoder

from medcam_core.config import DatasetSpec
from medcam_core.data import dicom
from medcam_core.data.decode import MAX_PIXELS, ImageSkipped, decode, decode_many, original_size
from medcam_core.data.discovery import DICOMDIR
from medcam_core.data.load import reason_kind
from medcam_core.data.recipes import discover

import dicom_files as files
from dicom_files import SIDE, ramp


def window(x: np.ndarray, center: float, width: float) -> np.ndarray:
    """PS3.3 C.11.2.1.2.1 (LINEAR) straight into 0..255."""
    x = np.asarray(x, dtype=np.float64)
    low, high = center - 0.5 - (width - 1) / 2, center - 0.5 + (width - 1) / 2
    inside = ((x - (center - 0.5)) / (width - 1) + 0.5) * 255
    return np.where(x <= low, 0.0, np.where(x > high, 255.0, inside))


def stretch(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return (x - x.min()) / (x.max() - x.min()) * 255


def as_8bit(y: np.ndarray) -> np.ndarray:
    return np.clip(np.floor(y + 0.5), 0, 255).astype(np.uint8)


def assert_shows(out: np.ndarray, expected: np.ndarray, *wrong: np.ndarray) -> None:
    """Equal to the hand computation (±1 where float order rounds a tie the other way), and far from
    each wrong rendering (un-windowed, not inverted, …), so the check can tell them apart."""
    assert out.dtype == np.uint8 and out.shape == expected.shape
    assert np.abs(out.astype(int) - expected.astype(int)).max() <= 1
    for other in wrong:
        assert np.abs(out.astype(int) - other.astype(int)).max() > 40


def skip_reason(path: Path, size: int = SIDE) -> str:
    with pytest.raises(ImageSkipped) as info:
        decode(path, size)
    return str(info.value)


def test_a_12_bit_monochrome2_uses_only_its_stored_bits_and_stretches_without_a_voi(tmp_path: Path) -> None:
    values = ramp(12)
    expected = as_8bit(stretch(values))
    native = files.save(files.with_noise_above(files.image(values), 12), tmp_path / "noisy.dcm")
    raw = np.frombuffer(native.read_bytes()[-values.nbytes :], "<u2").reshape(values.shape)
    assert (raw != values).all()  # every value carries noise above bit 11
    # a JPEG 2000 codestream of 16-bit precision in a 12-bit header: pydicom leaves the high bits as they are
    wide = files.compressed(files.with_noise_above(files.image(values, bits_stored=16), 12), uid.JPEG2000Lossless)
    wide.BitsStored, wide.HighBit = 12, 11
    for path in (native, files.save(wide, tmp_path / "wide-j2k.dcm")):
        assert_shows(decode(path, SIDE), expected, as_8bit(stretch(raw)))


def test_monochrome1_and_an_inverse_presentation_lut_invert_after_the_window(tmp_path: Path) -> None:
    values = ramp(12)
    windowed = window(values, 1500, 1000)
    plain = files.write(tmp_path / "mono2.dcm", values, WindowCenter=1500, WindowWidth=1000)
    mono1 = files.write(tmp_path / "mono1.dcm", values, photometric="MONOCHROME1", WindowCenter=1500, WindowWidth=1000)
    inverse = files.write(tmp_path / "inverse.dcm", values, PresentationLUTShape="INVERSE")
    both = files.write(tmp_path / "both.dcm", values, photometric="MONOCHROME1", PresentationLUTShape="INVERSE")
    inverted_first = window(values.max() - values.astype(np.int64), 1500, 1000)  # inversion before the VOI: wrong
    assert_shows(decode(plain, SIDE), as_8bit(windowed), as_8bit(255 - windowed))
    assert_shows(decode(mono1, SIDE), as_8bit(255 - windowed), as_8bit(windowed), as_8bit(inverted_first))
    assert_shows(decode(inverse, SIDE), as_8bit(255 - stretch(values)), as_8bit(stretch(values)))
    assert_shows(decode(both, SIDE), as_8bit(255 - stretch(values)), as_8bit(stretch(values)))  # once, not twice


def test_rescale_slope_and_intercept_come_before_the_window_for_cr_too(tmp_path: Path) -> None:
    values = ramp(12)
    hounsfield = values * 2.0 - 1000
    path = files.write(
        tmp_path / "cr.dcm",
        values,
        sop=files.CR,
        RescaleSlope=2,
        RescaleIntercept=-1000,
        WindowCenter=2000,
        WindowWidth=3000,
    )
    expected = window(hounsfield, 2000, 3000)
    assert_shows(decode(path, SIDE), as_8bit(expected), as_8bit(window(values, 2000, 3000)))


def test_a_narrow_window_clips_everything_outside_its_band(tmp_path: Path) -> None:
    values = ramp(12)
    path = files.write(tmp_path / "narrow.dcm", values, WindowCenter=[2048, 100], WindowWidth=[64, 50])
    out = decode(path, SIDE)
    assert_shows(out, as_8bit(window(values, 2048, 64)), as_8bit(stretch(values)), as_8bit(window(values, 100, 50)))
    assert (out == 0).mean() > 0.45 and (out == 255).mean() > 0.45 and ((out > 0) & (out < 255)).any()


def test_a_voi_lut_wins_over_the_window_and_reads_wide_and_packed_tables(tmp_path: Path) -> None:
    values = ramp(12)
    first, entries = 1000, 2000
    gamma = np.round(4095 * (np.arange(entries) / (entries - 1)) ** 0.5).astype(np.uint16)
    looked_up = gamma[np.clip(values.astype(np.int64) - first, 0, entries - 1)]
    wide = files.image(values, VOILUTSequence=files.lut_sequence(gamma, first, 16), WindowCenter=100, WindowWidth=10)
    # declared 16 bits, fills 12: white is 4095, as viewers read such CR tables
    assert_shows(decode(files.save(wide, tmp_path / "lut16.dcm"), SIDE), as_8bit(looked_up / 4095 * 255))

    ramp8 = (np.arange(entries) * 255 // (entries - 1)).astype(np.uint8)  # 2000 entries of 8 bits: past 256
    packed = files.image(values, VOILUTSequence=files.lut_sequence(ramp8, first, 8, packed=True))
    expected = ramp8[np.clip(values.astype(np.int64) - first, 0, entries - 1)].astype(np.float64)
    wrapped = ramp8[(np.clip(values.astype(np.int64) - first, 0, entries - 1) % 256)]  # pydicom 3.0.2's lookup
    out = decode(files.save(packed, tmp_path / "lut8.dcm"), SIDE)
    assert_shows(out, as_8bit(expected), wrapped, as_8bit(window(values, 100, 10)))


def test_a_modality_lut_that_does_not_rise_is_stretched_over_the_values_present(tmp_path: Path) -> None:
    values = ramp(10) * 2  # even values only
    entries = int(values.max()) + 2
    table = np.where(np.arange(entries) % 2, 60000, 3000 - np.arange(entries)).astype(np.uint16)  # odd: far off
    ds = files.image(values, ModalityLUTSequence=files.lut_sequence(table, 0, 16))
    mapped = table[values].astype(np.float64)
    domain = table[: int(values.max()) + 1].astype(np.float64)
    over_domain = (mapped - domain.min()) / (domain.max() - domain.min()) * 255
    assert_shows(decode(files.save(ds, tmp_path / "modality-lut.dcm"), SIDE), as_8bit(stretch(mapped)), over_domain)


def test_rle_jpeg_2000_and_jpeg_lossless_decode_to_the_uncompressed_pixels(tmp_path: Path) -> None:
    values = ramp(12)
    tags = {"WindowCenter": 2000, "WindowWidth": 2500}
    expected = as_8bit(window(values, 2000, 2500))
    native = files.write(tmp_path / "native.dcm", values, **tags)
    lossless = {
        "rle": files.compressed(files.image(values, **tags), uid.RLELossless),
        "j2k": files.compressed(files.image(values, **tags), uid.JPEG2000Lossless),
        "jpeg-sv1": files.encapsulated(
            files.image(values, **tags), files.jpeg_lossless(values, 12), uid.JPEGLosslessSV1
        ),
        "jpeg-14": files.encapsulated(files.image(values, **tags), files.jpeg_lossless(values, 12), uid.JPEGLossless),
    }
    assert_shows(decode(native, SIDE), expected)
    for name, ds in lossless.items():
        path = files.save(ds, tmp_path / f"{name}.dcm")
        assert path.read_bytes()[128:132] == b"DICM" and ds.file_meta.TransferSyntaxUID.is_compressed
        assert (decode(path, SIDE) == decode(native, SIDE)).all(), name

    lossy = files.save(files.compressed(files.image(values, **tags), uid.JPEG2000, j2k_cr=[4]), tmp_path / "j2k.dcm")
    assert np.abs(decode(lossy, SIDE).astype(int) - expected).mean() < 3


def test_jpeg_baseline_decodes_as_pillow_reads_the_same_codestream(tmp_path: Path) -> None:
    values = ramp(8)
    codestream = files.jpeg_baseline(values)
    ds = files.encapsulated(files.image(values, bits_stored=8), codestream, uid.JPEGBaseline8Bit)
    reference = np.asarray(Image.open(io.BytesIO(codestream)), dtype=np.float64)
    assert_shows(decode(files.save(ds, tmp_path / "baseline.dcm"), SIDE), as_8bit(stretch(reference)))


def test_jpeg_ls_and_the_other_pydicom_examples_decode_like_their_uncompressed_twins() -> None:
    examples = files.PYDICOM_FILES
    stored = dcmread(examples / "MR_small.dcm").pixel_array  # signed 16-bit MR, 64 × 64, window 600 / 1600
    reference = decode(examples / "MR_small.dcm", 64)
    assert_shows(reference, as_8bit(window(stored, 600, 1600)), as_8bit(stretch(stored)))
    for twin in ("MR_small_jpeg_ls_lossless.dcm", "MR_small_RLE.dcm", "MR_small_jp2klossless.dcm"):
        assert (decode(examples / twin, 64) == reference).all(), twin


@pytest.mark.parametrize(
    ("example", "syntax", "plugin"),
    [
        ("MR_small_jpeg_ls_lossless.dcm", uid.JPEGLSLossless, "pylibjpeg-libjpeg or pyjpegls"),
        ("MR_small_jp2klossless.dcm", uid.JPEG2000Lossless, "pylibjpeg-openjpeg"),
    ],
)
def test_a_missing_codec_plugin_is_named_in_the_skip_reason(
    monkeypatch: pytest.MonkeyPatch, example: str, syntax: str, plugin: str
) -> None:
    monkeypatch.setattr(get_decoder(syntax), "_available", {})  # as if the plugin were not installed
    reason = skip_reason(files.PYDICOM_FILES / example, 64)
    assert reason == f"DICOM codec missing: {uid.UID(syntax).name} needs {plugin}"
    assert reason_kind(reason) == "DICOM codec missing"


def test_multi_frame_and_non_image_objects_are_skipped_with_their_reason(tmp_path: Path) -> None:
    assert skip_reason(files.multiframe(tmp_path / "cine.dcm", 3)) == "multi-frame DICOM (3 frames)"
    report = files.without_image(tmp_path / "report.dcm", uid.BasicTextSRStorage)
    state = files.without_image(tmp_path / "state.dcm", uid.GrayscaleSoftcopyPresentationStateStorage)
    assert skip_reason(report) == "DICOM without image (Basic Text SR)"
    assert skip_reason(state) == "DICOM without image (Grayscale Softcopy Presentation State)"
    assert reason_kind(skip_reason(report)) == "DICOM without image"


def test_a_dicom_over_the_pixel_limit_is_skipped_from_its_header_before_decoding(tmp_path: Path) -> None:
    ds = files.image(ramp(12))
    side = int(MAX_PIXELS**0.5) + 1
    ds.Rows = ds.Columns = side  # pixel data for 32 × 32 only: decoding would say "truncated"
    assert skip_reason(files.save(ds, tmp_path / "huge.dcm")) == f"too large: {side}×{side} pixels"
    assert skip_reason(files.write(tmp_path / "tiny.dcm", ramp(12, 8, 8))) == "too small (8×8 px)"


def test_truncated_and_malformed_dicoms_are_skipped_never_raised(tmp_path: Path) -> None:
    values = ramp(12)
    sources = {
        "native": files.write(tmp_path / "native.dcm", values),
        "rle": files.save(files.compressed(files.image(values), uid.RLELossless), tmp_path / "rle.dcm"),
        "j2k": files.save(files.compressed(files.image(values), uid.JPEG2000Lossless), tmp_path / "j2k.dcm"),
    }
    cuts = []
    for name, source in sources.items():
        size = source.stat().st_size
        for keep in range(140, size - 8, 37):
            cuts.append(files.truncated(tmp_path / f"{name}-{keep}.dcm", source, keep))
    (tmp_path / "text.dcm").write_text("not a DICOM at all\n" * 20)
    cuts.append(tmp_path / "text.dcm")
    decoded = decode_many(cuts, SIDE)
    assert decoded.kept == [] and len(decoded.skipped) == len(cuts)
    kinds = {reason_kind(reason) for _, reason in decoded.skipped}
    assert kinds <= {"truncated DICOM", "truncated or malformed DICOM", "not a readable DICOM"}, kinds
    assert skip_reason(files.truncated(tmp_path / "cut.dcm", sources["native"], -100)) == (
        f"truncated DICOM: pixel data holds {values.nbytes - 100} of {values.nbytes} bytes"
    )
    assert skip_reason(tmp_path / "text.dcm") == "not a readable DICOM (no SOP class, no pixel data)"


def test_a_bare_dataset_named_dcm_decodes_without_the_preamble(tmp_path: Path) -> None:
    values = ramp(12)
    bare = files.save(files.image(values, WindowCenter=1000, WindowWidth=800), tmp_path / "bare.dcm", preamble=False)
    assert bare.read_bytes()[128:132] != b"DICM"
    assert_shows(decode(bare, SIDE), as_8bit(window(values, 1000, 800)))
    assert reason_kind(skip_reason(bare.rename(tmp_path / "bare"))) == "not a readable image"  # no name, no preamble


def test_signed_and_wider_than_16_bit_values_take_the_per_pixel_path_alike(tmp_path: Path) -> None:
    signed = (ramp(12).astype(np.int32) - 2048).astype(np.int16)
    path = files.write(
        tmp_path / "signed.dcm", signed, RescaleSlope=1, RescaleIntercept=-24, WindowCenter=0, WindowWidth=2000
    )
    assert_shows(decode(path, SIDE), as_8bit(window(signed - 24.0, 0, 2000)), as_8bit(stretch(signed)))
    wide = ramp(20, 64, 64)  # 2**20 values: more than the lookup table takes
    assert wide.max() - wide.min() >= dicom.LUT_LIMIT
    assert_shows(decode(files.write(tmp_path / "wide.dcm", wide, bits_stored=20), 64), as_8bit(stretch(wide)))


def test_a_dicom_is_resized_and_coloured_exactly_as_the_same_pixels_in_a_png(tmp_path: Path) -> None:
    gray = ramp(8, 200, 160)  # min side 160 ≥ 4 × 32: box-reduced, then bilinear
    rgb = np.stack([gray, gray[::-1], np.flipud(gray)], axis=-1)
    for name, pixels, photometric in (("gray", gray, "MONOCHROME2"), ("rgb", rgb, "RGB")):
        Image.fromarray(pixels).save(tmp_path / f"{name}.png")
        path = files.write(tmp_path / f"{name}.dcm", pixels, bits_stored=8, photometric=photometric)
        assert (decode(path, SIDE) == decode(tmp_path / f"{name}.png", SIDE)).all(), name


def test_original_size_reads_the_header_only(tmp_path: Path) -> None:
    Image.fromarray(np.zeros((30, 40), np.uint8)).save(tmp_path / "plain.png")
    whole = files.write(tmp_path / "whole.dcm", ramp(12, 32, 48))
    cut = files.truncated(tmp_path / "IM0001", whole, -500)  # no pixel data left, no extension
    assert original_size(tmp_path / "plain.png") == (40, 30)
    assert original_size(whole) == original_size(cut) == (48, 32)
    with pytest.raises(ImageSkipped):
        original_size(files.without_image(tmp_path / "report.dcm", uid.BasicTextSRStorage))


def test_discovery_finds_dicoms_by_name_or_preamble_and_takes_their_patient_id(tmp_path: Path) -> None:
    sick, well = tmp_path / "data" / "sick", tmp_path / "data" / "well"
    sick.mkdir(parents=True)
    well.mkdir()
    files.write(sick / "a.dcm", ramp(12), PatientID="PAT-1")
    files.write(sick / "b.DICOM", ramp(12), PatientID="PAT-1")
    files.write(sick / "IM0003", ramp(12), PatientID="PAT-2")
    files.write(sick / "1.2.840.10008.7", ramp(12), PatientID="  ")  # blank: its path is its patient
    files.write(well / "c.dcm", ramp(12), PatientID="PAT-3")
    (well / "notes").write_text("written by hand")
    files.write(well / "DICOMDIR", ramp(12))
    Image.fromarray(ramp(8)).save(well / "d.png")
    spec = DatasetSpec(name="dicom", path=tmp_path / "data", positive=("sick",))
    found = discover(spec, seed=0)
    patients = {path.name: sample for path, sample in ((s.path, s.patient) for s in found.samples)}
    assert patients == {
        "a.dcm": "PAT-1",
        "b.DICOM": "PAT-1",
        "IM0003": "PAT-2",
        "1.2.840.10008.7": str(sick / "1.2.840.10008.7"),
        "c.dcm": "PAT-3",
        "d.png": str(well / "d.png"),
    }
    skipped = {Path(path).name: reason for path, reason in found.skipped}
    assert skipped == {"notes": "not an image file extension (none)", "DICOMDIR": DICOMDIR}
    named = discover(DatasetSpec(name="d", path=tmp_path / "data", positive=("sick",), patient_id=r"^(\w)"), 0)
    assert {s.patient for s in named.samples} == {"a", "b", "I", "1", "c", "d"}
