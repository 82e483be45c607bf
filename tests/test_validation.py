"""validate_inputs: every rule of the model spec, with the message a user would read."""
from __future__ import annotations

import math
import struct
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from wiro import uploads, spec
from wiro.errors import InvalidInputError
from wiro.validation import ImageFile, ImageUrl, RunRequest, parse_ipv4, validate_inputs

URL_A = "https://cdn.wiro.ai/uploads/sampleinputs/bfl-flux-2-pro-input-5-1.jpg"
URL_B = "https://example.com/b.png"


def valid(**overrides) -> dict:
    values = {"prompt": "a red bicycle", "inputImage": [URL_A]}
    values.update(overrides)
    return values


def problems_of(values: dict, **kwargs) -> list[str]:
    with pytest.raises(InvalidInputError) as info:
        validate_inputs(values, **kwargs)
    assert str(info.value) == "\n".join(info.value.problems)
    return info.value.problems


def one_problem(values: dict, **kwargs) -> str:
    problems = problems_of(values, **kwargs)
    assert len(problems) == 1, problems
    return problems[0]


def make_image(path: Path, size=(32, 24), fmt="PNG", color=(200, 30, 30)) -> Path:
    Image.new("RGB", size, color).save(path, fmt)
    return path


# --- defaults ----------------------------------------------------------------------------


def test_spec_defaults_pass() -> None:
    request = validate_inputs(spec.defaults())
    assert isinstance(request, RunRequest)
    assert request.params == {
        "prompt": spec.PROMPT.default, "width": 1024, "height": 1024,
        "safetyTolerance": 2, "seed": 123, "outputFormat": "png",
    }
    assert request.images == tuple(ImageUrl(u) for u in spec.default_reference_images())
    assert not request.has_files


def test_missing_scalars_take_spec_defaults_and_keep_spec_order() -> None:
    request = validate_inputs({"prompt": "hello"})
    assert list(request.params) == ["prompt", "width", "height", "safetyTolerance", "seed",
                                    "outputFormat"]
    for field in spec.NUMBER_INPUTS:
        assert request.params[field.name] == field.default
    assert request.images == ()


def test_every_inspiration_validates() -> None:
    for inspiration in spec.INSPIRATIONS:
        request = validate_inputs({**spec.defaults(), **inspiration.values()})
        assert request.params["prompt"] == inspiration.prompt
        assert [i.url for i in request.images] == list(inspiration.input_images)


# --- width / height -----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["width", "height"])
@pytest.mark.parametrize("value", [64, 80, 1024, 2032, 2048, "512", " 768 ", 1024.0, "1024.0"])
def test_size_accepts_multiples_of_16_in_range(name: str, value) -> None:
    assert validate_inputs(valid(**{name: value})).params[name] == int(float(value))


@pytest.mark.parametrize(("name", "label"), [("width", "Width"), ("height", "Height")])
@pytest.mark.parametrize(("value", "below", "above"),
                         [(1010, 1008, 1024), (1000, 992, 1008), (65, 64, 80), (2047, 2032, 2048)])
def test_size_not_multiple_of_16_suggests_neighbours(name, label, value, below, above) -> None:
    message = one_problem(valid(**{name: value}))
    assert message.startswith(label)
    assert "multiple of 16" in message
    assert f"e.g. {below} or {above}" in message


@pytest.mark.parametrize(("name", "label"), [("width", "Width"), ("height", "Height")])
@pytest.mark.parametrize("value", [-16, 16, 48, 2064, 4096, 10**9])
def test_size_out_of_range(name, label, value) -> None:
    message = one_problem(valid(**{name: value}))
    assert message.startswith(label)
    assert "between 64 and 2048" in message
    assert "0 to match the input image" in message


@pytest.mark.parametrize(("name", "label"), [("width", "Width"), ("height", "Height")])
def test_size_zero_matches_input_image(name, label) -> None:
    assert validate_inputs(valid(**{name: 0})).params[name] == 0
    message = one_problem({"prompt": "x", name: 0})
    assert message.startswith(label)
    assert "no input image" in message


@pytest.mark.parametrize("empty", [None, [], [""], [None, ""]])
def test_size_zero_with_only_empty_image_entries_is_refused(empty) -> None:
    problems = problems_of({"prompt": "x", "width": 0, "height": 0, "inputImage": empty})
    assert len(problems) == 2
    assert problems[0].startswith("Width") and problems[1].startswith("Height")


def test_size_zero_with_a_broken_image_reports_the_image_only(tmp_path) -> None:
    missing = str(tmp_path / "gone.png")
    message = one_problem({"prompt": "x", "width": 0, "inputImage": [missing]})
    assert message.startswith("Input Image 1")


@pytest.mark.parametrize("value", [1024.5, "1024.5", "abc", "", "   ", None, True, [1024],
                                   float("nan"), float("inf"), "1e400"])
def test_size_must_be_a_whole_number(value) -> None:
    message = one_problem(valid(width=value))
    assert message.startswith("Width")


def test_fractional_size_suggests_sizes_the_model_takes() -> None:
    # Issue 12, point 6: 1025 is not a multiple of 16, so it is no help as a suggestion.
    message = one_problem(valid(width=1024.5))
    assert "e.g. 1024 or 1040 (got 1024.5)" in message and "multiple of 16" in message
    assert "e.g. 2032 or 2048" in one_problem(valid(height="2047.5"))
    assert "e.g. 64 or 80" in one_problem(valid(width=64.25))
    assert "e.g. 42 or 43" in one_problem(valid(seed=42.5))  # seeds: any whole number


# --- safety tolerance, seed ---------------------------------------------------------------


@pytest.mark.parametrize("value", [0, 1, 2, 3, 4, 5, 6, "6", 3.0])
def test_safety_tolerance_accepts_0_to_6(value) -> None:
    assert validate_inputs(valid(safetyTolerance=value)).params["safetyTolerance"] == int(value)


@pytest.mark.parametrize("value", [-1, 7, 100, 2.5, "two", None])
def test_safety_tolerance_refused(value) -> None:
    message = one_problem(valid(safetyTolerance=value))
    assert message.startswith("Safety Tolerance")


def test_safety_tolerance_range_in_message() -> None:
    assert "between 0 and 6" in one_problem(valid(safetyTolerance=7))


@pytest.mark.parametrize("value", [0, 1, 123, 2**32 - 1, "42"])
def test_seed_accepts_non_negative_integers(value) -> None:
    assert validate_inputs(valid(seed=value)).params["seed"] == int(value)


@pytest.mark.parametrize("value", [-1, -123, 1.5, "x", 2**32])
def test_seed_refused(value) -> None:
    assert one_problem(valid(seed=value)).startswith("Seed")


# --- output format ------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [
    ("png", "png"), ("jpeg", "jpeg"), ("jpg", "jpeg"), ("JPG", "jpeg"), (" PNG ", "png"),
])
def test_output_format(value, expected) -> None:
    assert validate_inputs(valid(outputFormat=value)).params["outputFormat"] == expected


@pytest.mark.parametrize("value", ["gif", "webp", "", None, 1])
def test_output_format_refused(value) -> None:
    message = one_problem(valid(outputFormat=value))
    assert message.startswith("Output Format")
    assert "JPEG or PNG" in message


# --- prompt -------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["", "   ", "\n\t", None])
def test_prompt_must_not_be_empty(value) -> None:
    message = one_problem(valid(prompt=value))
    assert message.startswith("Prompt") and "empty" in message


def test_prompt_is_trimmed() -> None:
    assert validate_inputs(valid(prompt="  a cat \n")).params["prompt"] == "a cat"


def test_prompt_too_long() -> None:
    assert validate_inputs(valid(prompt="x" * spec.MAX_PROMPT_CHARS)).params["prompt"]
    message = one_problem(valid(prompt="x" * (spec.MAX_PROMPT_CHARS + 1)))
    assert message.startswith("Prompt") and f"{spec.MAX_PROMPT_CHARS:,}" in message


def test_unicode_prompt_kept() -> None:
    text = "Bir kedi 🐈 — 日本の猫"
    assert validate_inputs(valid(prompt=text)).params["prompt"] == text


# --- input images ---------------------------------------------------------------------------


def test_no_images_is_fine_with_explicit_size() -> None:
    assert validate_inputs({"prompt": "x", "inputImage": []}).images == ()


def test_eight_images_ok_nine_refused() -> None:
    urls = [f"https://example.com/{i}.png" for i in range(9)]
    assert len(validate_inputs(valid(inputImage=urls[:8])).images) == 8
    message = one_problem(valid(inputImage=urls))
    assert message.startswith("Input Image") and "at most 8" in message and "Remove 1" in message


def test_real_files_png_and_jpeg(tmp_path) -> None:
    png = make_image(tmp_path / "a.png", (64, 48), "PNG")
    jpg = make_image(tmp_path / "b.jpg", (40, 30), "JPEG")
    request = validate_inputs(valid(inputImage=[str(png), jpg]))
    assert request.has_files
    first, second = request.images
    assert isinstance(first, ImageFile) and isinstance(second, ImageFile)
    assert (first.width, first.height, first.format, first.content_type) == \
        (64, 48, "PNG", "image/png")
    assert (second.width, second.height, second.format, second.content_type) == \
        (40, 30, "JPEG", "image/jpeg")
    assert first.filename == "a.png"


def test_gradio_style_entries(tmp_path) -> None:
    png = make_image(tmp_path / "g.png")

    class Upload:
        path = str(png)

    request = validate_inputs(valid(inputImage=[{"path": str(png)}, Upload(), ImageUrl(URL_B),
                                                ImageFile(str(png))]))
    assert [type(i) for i in request.images] == [ImageFile, ImageFile, ImageUrl, ImageFile]


def test_a_single_image_not_in_a_list(tmp_path) -> None:
    assert validate_inputs(valid(inputImage=URL_B)).images == (ImageUrl(URL_B),)
    png = make_image(tmp_path / "one.png")
    (image,) = validate_inputs(valid(inputImage=png)).images
    assert isinstance(image, ImageFile) and image.path == str(png)


def test_text_file_is_not_an_image(tmp_path) -> None:
    text = tmp_path / "notes.png"
    text.write_text("just some words, not pixels")
    message = one_problem(valid(inputImage=[str(text)]))
    assert message.startswith("Input Image 1 (notes.png)") and "is not an image" in message


def test_truncated_png_is_damaged(tmp_path) -> None:
    full = make_image(tmp_path / "full.png", (256, 256), "PNG")
    Image.effect_noise((256, 256), 80).save(full)  # noise compresses badly: plenty to cut
    data = full.read_bytes()
    cut = tmp_path / "cut.png"
    cut.write_bytes(data[: len(data) // 2])
    request = validate_inputs(valid(inputImage=[str(cut)]))  # its header is whole
    with pytest.raises(InvalidInputError) as info:  # decoding it, once admitted, is not
        uploads.prepare(request, cache_dir=tmp_path / "c")
    [message] = info.value.problems
    assert message.startswith("Input Image 1 (cut.png)") and "damaged or cut short" in message


def test_missing_file(tmp_path) -> None:
    message = one_problem(valid(inputImage=[str(tmp_path / "nope.png")]))
    assert message.startswith("Input Image 1 (nope.png)") and "could not be read" in message


def test_directory_is_not_a_file(tmp_path) -> None:
    assert one_problem(valid(inputImage=[str(tmp_path)])).startswith("Input Image 1")


def _png_header_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims a size its data does not have (a decompression bomb)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk
            + struct.pack(">I", zlib.crc32(chunk)) + b"\x00\x00\x00\x00IEND\xaeB`\x82")


def test_huge_pixel_count_refused_before_decoding(tmp_path) -> None:
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_png_header_claiming(9000, 8000))  # 72 MP, under Pillow's own warning
    message = one_problem(valid(inputImage=[str(bomb)]))
    assert message.startswith("Input Image 1 (bomb.png)") and "MP" in message


def test_twelve_megapixels_of_references_are_sent_as_nine(tmp_path) -> None:
    big = [make_image(tmp_path / f"big{i}.png", (2000, 2000)) for i in range(3)]  # 12 MP
    request = validate_inputs(valid(inputImage=[str(p) for p in big]))
    sent = uploads.prepare(request, cache_dir=tmp_path / "c")
    assert len(sent.images) == 3 and sent.input_megapixels <= spec.MAX_INPUT_MEGAPIXELS


@pytest.mark.parametrize("url", [
    "http://example.com/a.png", "https://cdn.wiro.ai/x.jpg", "HTTPS://EXAMPLE.COM/A.PNG",
    "https://example.com/a.png?x=1&y=2", "http://93.184.216.34/img.png",
])
def test_web_urls_accepted(url) -> None:
    assert validate_inputs(valid(inputImage=[url]), allow_private_urls=False).images == \
        (ImageUrl(url),)


@pytest.mark.parametrize("url", [
    "file:///etc/passwd", "javascript:alert(1)", "data:image/png;base64,iVBORw0KGgo=",
    "ftp://example.com/a.png", "http://", "https:///nohost.png",
])
def test_non_web_urls_refused(url) -> None:
    for allow in (True, False):
        message = one_problem(valid(inputImage=[url]), allow_private_urls=allow)
        assert message.startswith("Input Image 1") and "http(s)" in message


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:7860/a.png", "http://localhost/a.png", "http://[::1]/a.png",
    "http://10.0.0.5/a.png", "http://192.168.1.20/a.png", "http://172.16.0.1/a.png",
    "http://169.254.169.254/latest/meta-data", "http://printer.local/a.png",
    "http://0.0.0.0/a.png",
])
def test_private_urls_refused_only_in_live_mode(url) -> None:
    assert validate_inputs(valid(inputImage=[url])).images == (ImageUrl(url),)
    message = one_problem(valid(inputImage=[url]), allow_private_urls=False)
    assert message.startswith("Input Image 1") and "private" in message


# Issue 12, point 5: the same hosts in the other spellings a URL fetcher accepts.
@pytest.mark.parametrize("url", [
    "http://2130706433/a.png", "http://0x7f000001/a.png", "http://0177.0.0.1/a.png",
    "http://127.1/a.png", "http://127.0.1/a.png", "http://0x7f.1/a.png",
    "http://017700000001/a.png", "http://0/a.png", "http://0x0/a.png",
    "http://localhost./a.png", "http://LOCALHOST/a.png", "http://127.0.0.1./a.png",
    "http://app.localhost/a.png", "http://metadata.google.internal/computeMetadata/v1/",
    "http://metadata.google.internal./x", "http://metadata/x", "http://metadata.goog/x",
    "http://instance-data.ec2.internal/x", "http://169.254.169.254./x",
    "http://2852039166/latest/meta-data", "http://[fd00:ec2::254]/x",
    "http://100.100.100.200/x", "http://[::ffff:127.0.0.1]/a.png", "http://[::ffff:7f00:1]/",
    "http://[::]/a.png", "http://[fe80::1]/a.png", "http://10.0.0.1.nip.io/a.png",
    "http://127.0.0.1.nip.io/a.png", "http://app-127-0-0-1.nip.io/a.png",
    "http://192-168-1-20.sslip.io/a.png", "http://7f000001.nip.io/a.png",
    "http://anything.nip.io/a.png", "http://lvh.me/a.png", "http://x.localtest.me/a.png",
    "http://%31%32%37.0.0.1/a.png", "http://\uff11\uff12\uff17.0.0.1/a.png",
    "http://user@127.0.0.1/a.png", "http://example.com@127.0.0.1/a.png",
    "http://10.0.0.1.example.com/a.png", "http://[64:ff9b::a00:1]/a.png",
])
def test_private_hosts_in_every_spelling_are_refused_in_live_mode(url) -> None:
    message = one_problem(valid(inputImage=[url]), allow_private_urls=False)
    assert message.startswith("Input Image 1") and "local or private" in message


@pytest.mark.parametrize("url", [
    "https://cdn.wiro.ai/x.jpg", "http://8.8.8.8/a.png", "http://134744072/a.png",
    "http://1.2.3.4.nip.io/a.png", "https://images.example.com./a.png",
    "http://[2001:4860:4860::8888]/a.png", "https://img-2024-01-01.example.org/a.png",
])
def test_public_hosts_in_those_spellings_still_pass(url) -> None:
    assert validate_inputs(valid(inputImage=[url]), allow_private_urls=False).images == \
        (ImageUrl(url),)


@pytest.mark.parametrize("host, address", [
    ("2130706433", "127.0.0.1"), ("0x7f000001", "127.0.0.1"), ("0177.0.0.1", "127.0.0.1"),
    ("127.1", "127.0.0.1"), ("10.1.2", "10.1.0.2"), ("0x0a.0x00.0.01", "10.0.0.1"),
    ("192.168.257", "192.168.1.1"), ("1.2.3.4", "1.2.3.4"),
])
def test_hosts_are_read_the_way_inet_aton_reads_them(host, address) -> None:
    import socket
    assert str(parse_ipv4(host)) == address == socket.inet_ntoa(socket.inet_aton(host))


@pytest.mark.parametrize("host", ["256.1.1.1", "1.2.3.4.5", "08.1.1.1", "0x1g.1", "a.b.c.d",
                                  "1.2.3.256", "1.2.65536", "4294967296", ""])
def test_what_inet_aton_refuses_is_not_an_address(host) -> None:
    assert parse_ipv4(host) is None


def test_order_of_images_preserved(tmp_path) -> None:
    a = make_image(tmp_path / "a.png", color=(255, 0, 0))
    b = make_image(tmp_path / "b.jpg", fmt="JPEG", color=(0, 255, 0))
    entries = [str(a), URL_A, str(b), URL_B]
    request = validate_inputs(valid(inputImage=entries))
    got = [i.path if isinstance(i, ImageFile) else i.url for i in request.images]
    assert got == entries


def test_image_numbers_in_messages_follow_the_users_order(tmp_path) -> None:
    good = make_image(tmp_path / "good.png")
    problems = problems_of(valid(inputImage=[str(good), "file:///x", URL_A,
                                             str(tmp_path / "missing.png")]))
    assert [p.split(":")[0].split(" (")[0] for p in problems] == ["Input Image 2",
                                                                   "Input Image 4"]


# --- many problems at once --------------------------------------------------------------------


def test_all_problems_reported_together(tmp_path) -> None:
    problems = problems_of({
        "prompt": "  ", "width": 1001, "height": 5000, "safetyTolerance": 9, "seed": -5,
        "outputFormat": "gif", "inputImage": ["javascript:x", str(tmp_path / "none.png")],
    })
    assert len(problems) == 8
    for label in ("Input Image 1", "Input Image 2", "Prompt", "Width", "Height",
                  "Safety Tolerance", "Seed", "Output Format"):
        assert any(p.startswith(label) for p in problems), (label, problems)


def test_invalid_input_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        validate_inputs({"prompt": ""})


# --- fuzzing -----------------------------------------------------------------------------------

ANY_SCALAR = st.one_of(
    st.none(), st.booleans(),
    st.integers(), st.integers(min_value=-100, max_value=5000),
    st.floats(allow_nan=True, allow_infinity=True), st.floats(min_value=-10, max_value=3000),
    st.text(max_size=20),
    st.integers(min_value=-100, max_value=5000).map(str),
    st.floats(min_value=-100, max_value=5000).map(repr),
    st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(),
                                                         max_size=1),
)


def _assert_valid_number(field: spec.ModelInput, value) -> None:
    assert type(value) is int
    if value == 0 and field.zero_means_match_input:
        return
    assert field.minimum <= value <= field.maximum
    if field.step:
        assert value % field.step == 0


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(field=st.sampled_from(spec.NUMBER_INPUTS), raw=ANY_SCALAR)
def test_fuzz_number_fields(field: spec.ModelInput, raw) -> None:
    try:
        request = validate_inputs(valid(**{field.name: raw}))
    except InvalidInputError as exc:
        assert exc.problems
        assert all(p.startswith(field.label) for p in exc.problems), exc.problems
    else:
        _assert_valid_number(field, request.params[field.name])
        if isinstance(raw, (int, float)) and not isinstance(raw, bool):
            assert request.params[field.name] == raw


@settings(max_examples=200, deadline=None)
@given(width=ANY_SCALAR, height=ANY_SCALAR, tolerance=ANY_SCALAR, seed=ANY_SCALAR,
       fmt=st.one_of(ANY_SCALAR, st.sampled_from(["png", "jpeg", "jpg", "PNG", " Jpg "])),
       prompt=st.one_of(st.none(), st.text(max_size=50)),
       with_image=st.booleans())
def test_fuzz_all_fields_together(width, height, tolerance, seed, fmt, prompt,
                                  with_image) -> None:
    values = {"width": width, "height": height, "safetyTolerance": tolerance, "seed": seed,
              "outputFormat": fmt, "prompt": prompt, "inputImage": [URL_A] if with_image else []}
    try:
        request = validate_inputs(values)
    except InvalidInputError as exc:
        labels = [f.label for f in spec.INPUTS]
        assert exc.problems
        assert all(any(p.startswith(label) for label in labels) for p in exc.problems)
    else:
        for field in spec.NUMBER_INPUTS:
            _assert_valid_number(field, request.params[field.name])
        if not with_image:
            assert request.params["width"] and request.params["height"]
        assert request.params["outputFormat"] in ("png", "jpeg")
        assert request.params["prompt"] and request.params["prompt"] == request.params[
            "prompt"].strip()


@settings(max_examples=150, deadline=None)
@given(entries=st.lists(st.one_of(
    st.text(max_size=30), st.none(), st.integers(), st.builds(lambda s: f"https://{s}.com/x",
                                                               st.from_regex(r"[a-z]{1,8}",
                                                                             fullmatch=True)),
), max_size=10))
def test_fuzz_image_entries_never_crash(entries) -> None:
    try:
        request = validate_inputs(valid(inputImage=entries), allow_private_urls=False)
    except InvalidInputError as exc:
        assert all(p.startswith("Input Image") for p in exc.problems), exc.problems
    else:
        assert all(isinstance(i, ImageUrl) and i.url.startswith("https://")
                   for i in request.images)
        assert len(request.images) <= spec.MAX_REFERENCE_IMAGES


def test_float_nan_message_is_plain() -> None:
    message = one_problem(valid(seed=math.nan))
    assert message.startswith("Seed") and "whole number" in message
