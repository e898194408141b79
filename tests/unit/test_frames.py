"""Tests for codec.frames and codec.mic: pinned TS004 frames, round trips, validation and the v2 MIC.

Expected bytes are worked out by hand from the layouts in TS004-NOTES.md §3; the ones marked "ChirpStack" are
the vectors of chirpstack lrwn/src/applayer/fragmentation/v2.rs tests.
"""

from __future__ import annotations

import contextlib
import dataclasses

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given
from hypothesis import strategies as st

from codec.errors import FrameError, MICError
from codec.frames import (
    FPORT,
    PACKAGE_IDENTIFIER,
    DataFragment,
    FragDataBlockReceivedAns,
    FragDataBlockReceivedReq,
    FragSessionDeleteAns,
    FragSessionDeleteReq,
    FragSessionSetupAns,
    FragSessionSetupReq,
    FragSessionStatusAns,
    FragSessionStatusReq,
    PackageVersionAns,
    PackageVersionReq,
    parse_downlink,
    parse_downlink_all,
    parse_uplink,
    parse_uplink_all,
)
from codec.mic import aes_cmac, data_block_int_key, data_block_mic

UPLINK_CLASSES = {
    PackageVersionAns,
    FragSessionStatusAns,
    FragSessionSetupAns,
    FragSessionDeleteAns,
    FragDataBlockReceivedReq,
}

# (version, hex, command). The same table drives the parse, encode, dispatch and length tests.
VECTORS = [
    (1, "00", PackageVersionReq()),
    (2, "00", PackageVersionReq()),
    (1, "000301", PackageVersionAns(package_version=1)),
    (2, "000302", PackageVersionAns(package_version=2)),  # ChirpStack
    (1, "0105", FragSessionStatusReq(frag_index=2, participants=True)),  # ChirpStack
    (1, "0106", FragSessionStatusReq(frag_index=3)),
    # ReceivedAndIndex = 287 | 1 << 14 = 0x411f, LE; v1 puts Status last.
    (1, "011f410501", FragSessionStatusAns(1, nb_frag_received=287, missing_frag=5, not_enough_memory=True)),
    (
        1,
        "0100c48001",
        FragSessionStatusAns(3, nb_frag_received=1024, missing_frag=128, not_enough_memory=True),
    ),
    # v2 puts Status first: bit1 MIC error.
    (2, "01021f4105", FragSessionStatusAns(1, 287, 5, mic_error=True, version=2)),
    (
        2,
        "010500c480",  # ChirpStack
        FragSessionStatusAns(3, 1024, 128, not_enough_memory=True, session_does_not_exist=True, version=2),
    ),
    (
        1,
        "02111f0130032701020304",
        FragSessionSetupReq(1, 0b0001, 287, 48, padding=39, descriptor=b"\x01\x02\x03\x04", block_ack_delay=3),
    ),
    (
        2,
        "0231000480 0d 40 01020304 8000 01020304",  # ChirpStack
        FragSessionSetupReq(
            frag_index=3,
            mc_group_bit_mask=0b0001,
            nb_frag=1024,
            frag_size=128,
            padding=64,
            descriptor=b"\x01\x02\x03\x04",
            block_ack_delay=5,
            frag_algo=1,
            session_cnt=128,
            mic=b"\x01\x02\x03\x04",
            version=2,
        ),
    ),
    (
        2,
        "02111f0130432701020304 0201 aabbccdd",  # Control 0x43: AckReception | BlockAckDelay 3
        FragSessionSetupReq(
            frag_index=1,
            mc_group_bit_mask=0b0001,
            nb_frag=287,
            frag_size=48,
            padding=39,
            descriptor=b"\x01\x02\x03\x04",
            block_ack_delay=3,
            ack_reception=True,
            session_cnt=0x0102,
            mic=bytes.fromhex("aabbccdd"),
            version=2,
        ),
    ),
    (
        1,
        "028b",
        FragSessionSetupAns(2, encoding_unsupported=True, not_enough_memory=True, wrong_descriptor=True),
    ),
    (2, "028b", FragSessionSetupAns(2, True, True, False, True, version=2)),  # ChirpStack
    (2, "0250", FragSessionSetupAns(1, session_cnt_replay=True, version=2)),
    (1, "0244", FragSessionSetupAns(1, frag_index_unsupported=True)),
    (1, "0303", FragSessionDeleteReq(3)),  # ChirpStack
    (1, "0307", FragSessionDeleteAns(3, session_does_not_exist=True)),  # ChirpStack
    (1, "0300", FragSessionDeleteAns(0)),
    (2, "0406", FragDataBlockReceivedReq(2, mic_error=True)),  # ChirpStack
    (2, "0401", FragDataBlockReceivedReq(1)),
    (2, "0402", FragDataBlockReceivedAns(2)),  # ChirpStack
    (1, "08008401020304", DataFragment(frag_index=2, n=1024, payload=b"\x01\x02\x03\x04")),  # ChirpStack
    (2, "08ffffaa", DataFragment(frag_index=3, n=16383, payload=b"\xaa")),
    (1, "08010000", DataFragment(frag_index=0, n=1, payload=b"\x00")),
]
FIXED_SIZE = [v for v in VECTORS if not isinstance(v[2], DataFragment)]


def _ids(vectors: list[tuple[int, str, object]]) -> list[str]:
    return [f"{type(cmd).__name__}-v{version}-{wire.replace(' ', '')}" for version, wire, cmd in vectors]


def _parse_cls(cls: type, data: bytes, version: int) -> object:
    return cls.parse(data, version) if cls.VERSIONED else cls.parse(data)


def _dispatch(cls: type, data: bytes, version: int) -> object:
    return (parse_uplink if cls in UPLINK_CLASSES else parse_downlink)(data, version)


@pytest.mark.parametrize(("version", "wire", "expected"), VECTORS, ids=_ids(VECTORS))
def test_pinned_vector(version: int, wire: str, expected: object) -> None:
    data = bytes.fromhex(wire)
    cls = type(expected)
    parsed = _parse_cls(cls, data, version)
    assert parsed == expected
    assert _dispatch(cls, data, version) == expected
    assert expected.encode() == data
    assert parsed.encode() == data


def test_data_fragment_fields() -> None:
    frame = DataFragment.parse(bytes.fromhex("080084") + b"fragment")
    assert frame.frag_index == 2
    assert frame.n == 1024
    assert frame.payload == b"fragment"
    assert frame.encode() == bytes.fromhex("080084") + b"fragment"


def test_setup_req_v1_fields() -> None:
    req = FragSessionSetupReq.parse(bytes.fromhex("02111f0130032701020304"))
    assert (req.frag_index, req.mc_group_bit_mask, req.nb_frag, req.frag_size) == (1, 0b0001, 287, 48)
    assert (req.block_ack_delay, req.frag_algo, req.ack_reception, req.padding) == (3, 0, False, 39)
    assert req.descriptor == b"\x01\x02\x03\x04"
    assert (req.session_cnt, req.mic, req.version) == (None, None, 1)
    assert req.data_length == 287 * 48 - 39


def test_setup_req_descriptor_int_is_stored_little_endian() -> None:
    req = FragSessionSetupReq(1, 1, 287, 48, 39, descriptor=0x04030201, block_ack_delay=3)
    assert req.descriptor == b"\x01\x02\x03\x04"
    assert req.encode() == bytes.fromhex("02111f0130032701020304")


def test_bytes_like_fields_are_stored_as_bytes() -> None:
    assert DataFragment(0, 1, bytearray(b"ab")).payload == b"ab"
    req = FragSessionSetupReq(0, 1, 1, 1, descriptor=bytearray(4), session_cnt=0, mic=memoryview(bytes(4)), version=2)
    assert type(req.descriptor) is bytes and type(req.mic) is bytes


def test_constants() -> None:
    assert (FPORT, PACKAGE_IDENTIFIER) == (201, 3)
    assert PackageVersionAns(package_version=2).package_identifier == 3


def test_status_ans_layout_depends_on_version() -> None:
    data = bytes.fromhex("011f410501")
    assert FragSessionStatusAns.parse(data, version=1).nb_frag_received == 287
    v2 = FragSessionStatusAns.parse(data, version=2)
    # The same bytes in the v2 layout: Status 0x1f, ReceivedAndIndex 0x0541, MissingFrag 1.
    assert (v2.not_enough_memory, v2.mic_error, v2.session_does_not_exist) == (True, True, True)
    assert (v2.nb_frag_received, v2.frag_index, v2.missing_frag) == (0x0541, 0, 1)


def test_rfu_bits_are_ignored_on_parse() -> None:
    # Bit 4 of FragSessionSetupAns is RFU in v1.0.0, SessionCnt replay in v2.0.0.
    assert FragSessionSetupAns.parse(bytes.fromhex("0250"), version=1) == FragSessionSetupAns(1)
    assert FragSessionDeleteReq.parse(bytes.fromhex("03fe")) == FragSessionDeleteReq(2)
    # v1 Control bit 6 is RFU: AckReception is not read.
    req = FragSessionSetupReq.parse(bytes.fromhex("02d11f01307f2701020304"), version=1)
    assert (req.frag_index, req.block_ack_delay, req.frag_algo, req.ack_reception) == (1, 7, 7, False)


def test_setup_req_lengths_per_version() -> None:
    v1 = bytes.fromhex("02111f0130032701020304")
    v2 = v1 + bytes.fromhex("0201aabbccdd")
    with pytest.raises(FrameError, match=r"trailing bytes: 16-byte payload, expected 10"):
        FragSessionSetupReq.parse(v2, version=1)
    with pytest.raises(FrameError, match=r"truncated: 10-byte payload, expected 16"):
        FragSessionSetupReq.parse(v1, version=2)


# Hypothesis round trips -------------------------------------------------------------------------------------

frag_index = st.integers(0, 3)
flag = st.booleans()


@st.composite
def setup_reqs(draw: st.DrawFn, version: int) -> FragSessionSetupReq:
    frag_size = draw(st.integers(1, 255))
    v2 = {
        "ack_reception": draw(flag),
        "session_cnt": draw(st.integers(0, 0xFFFF)),
        "mic": draw(st.binary(min_size=4, max_size=4)),
    }
    return FragSessionSetupReq(
        frag_index=draw(frag_index),
        mc_group_bit_mask=draw(st.integers(0, 15)),
        nb_frag=draw(st.integers(1, 16383)),
        frag_size=frag_size,
        padding=draw(st.integers(0, frag_size - 1)),
        descriptor=draw(st.binary(min_size=4, max_size=4)),
        block_ack_delay=draw(st.integers(0, 7)),
        frag_algo=draw(st.integers(0, 7)),
        version=version,
        **(v2 if version == 2 else {}),
    )


STRATEGIES = {
    "PackageVersionReq": st.just(PackageVersionReq()),
    "PackageVersionAns": st.builds(PackageVersionAns, package_version=st.integers(1, 2)),
    "FragSessionStatusReq": st.builds(FragSessionStatusReq, frag_index, flag),
    "FragSessionStatusAns-v1": st.builds(
        FragSessionStatusAns, frag_index, st.integers(0, 16383), st.integers(0, 255), flag
    ),
    "FragSessionStatusAns-v2": st.builds(
        FragSessionStatusAns,
        frag_index,
        st.integers(0, 16383),
        st.integers(0, 255),
        flag,
        flag,
        flag,
        version=st.just(2),
    ),
    "FragSessionSetupReq-v1": setup_reqs(1),
    "FragSessionSetupReq-v2": setup_reqs(2),
    "FragSessionSetupAns-v1": st.builds(FragSessionSetupAns, frag_index, flag, flag, flag, flag),
    "FragSessionSetupAns-v2": st.builds(
        FragSessionSetupAns, frag_index, flag, flag, flag, flag, flag, version=st.just(2)
    ),
    "FragSessionDeleteReq": st.builds(FragSessionDeleteReq, frag_index),
    "FragSessionDeleteAns": st.builds(FragSessionDeleteAns, frag_index, flag),
    "FragDataBlockReceivedReq": st.builds(FragDataBlockReceivedReq, frag_index, flag),
    "FragDataBlockReceivedAns": st.builds(FragDataBlockReceivedAns, frag_index),
    "DataFragment": st.builds(DataFragment, frag_index, st.integers(1, 16383), st.binary(min_size=1, max_size=255)),
}


@pytest.mark.parametrize("name", STRATEGIES)
@given(data=st.data())
def test_round_trip(name: str, data: st.DataObject) -> None:
    cmd = data.draw(STRATEGIES[name])
    cls = type(cmd)
    version = getattr(cmd, "version", cls.MIN_VERSION)
    wire = cmd.encode()
    assert wire[0] == cls.CID
    assert _parse_cls(cls, wire, version) == cmd
    assert _dispatch(cls, wire, version) == cmd


@given(st.binary(max_size=24), st.sampled_from([1, 2]))
def test_arbitrary_bytes_raise_only_frame_error(data: bytes, version: int) -> None:
    for parse in (parse_downlink, parse_uplink, parse_downlink_all, parse_uplink_all):
        with contextlib.suppress(FrameError):
            parse(data, version)


# Validation -------------------------------------------------------------------------------------------------


def _setup(**changes: object) -> FragSessionSetupReq:
    fields = {"frag_index": 1, "mc_group_bit_mask": 1, "nb_frag": 287, "frag_size": 48, "padding": 39}
    return FragSessionSetupReq(**{**fields, **changes})


def _setup_v2(**changes: object) -> FragSessionSetupReq:
    return _setup(**{"session_cnt": 1, "mic": bytes(4), "version": 2, **changes})


INVALID = [
    (lambda: _setup(nb_frag=0), "nb_frag", 0),
    (lambda: _setup(nb_frag=16384), "nb_frag", 16384),
    (lambda: _setup(frag_size=0, padding=0), "frag_size", 0),
    (lambda: _setup(frag_size=256), "frag_size", 256),
    (lambda: _setup(padding=48, frag_size=48), "padding", 48),
    (lambda: _setup(padding=256), "padding", 256),
    (lambda: _setup(frag_index=4), "frag_index", 4),
    (lambda: _setup(mc_group_bit_mask=16), "mc_group_bit_mask", 16),
    (lambda: _setup(block_ack_delay=8), "block_ack_delay", 8),
    (lambda: _setup(frag_algo=8), "frag_algo", 8),
    (lambda: _setup(descriptor=b"\x01\x02\x03"), "descriptor", b"\x01\x02\x03"),
    (lambda: _setup(descriptor=1 << 32), "descriptor", 1 << 32),
    (lambda: _setup(ack_reception=True), "ack_reception", True),
    (lambda: _setup(session_cnt=5), "session_cnt", 5),
    (lambda: _setup(version=3), "version", 3),
    (lambda: _setup_v2(session_cnt=None), "session_cnt", None),
    (lambda: _setup_v2(session_cnt=65536), "session_cnt", 65536),
    (lambda: _setup_v2(mic=b"abc"), "mic", b"abc"),
    (lambda: _setup_v2(ack_reception=1), "ack_reception", 1),
    (lambda: DataFragment(0, 0, b"x"), "n", 0),
    (lambda: DataFragment(0, 16384, b"x"), "n", 16384),
    (lambda: DataFragment(-1, 1, b"x"), "frag_index", -1),
    (lambda: DataFragment(0, 1, b""), "payload", "0 bytes"),
    (lambda: DataFragment(0, 1, bytes(256)), "payload", "256 bytes"),
    (lambda: DataFragment(0, True, b"x"), "n", True),
    (lambda: PackageVersionAns(package_version=3), "package_version", 3),
    (lambda: PackageVersionAns(package_version=1, package_identifier=4), "package_identifier", 4),
    (lambda: FragSessionStatusReq(4), "frag_index", 4),
    (lambda: FragSessionStatusReq(0, participants=1), "participants", 1),
    (lambda: FragSessionStatusAns(0, 16384, 0), "nb_frag_received", 16384),
    (lambda: FragSessionStatusAns(0, 0, 256), "missing_frag", 256),
    (lambda: FragSessionStatusAns(0, 0, 0, mic_error=True), "mic_error", True),
    (lambda: FragSessionStatusAns(0, 0, 0, session_does_not_exist=True), "session_does_not_exist", True),
    (lambda: FragSessionStatusAns(0, 0, 0, version=0), "version", 0),
    (lambda: FragSessionSetupAns(4), "frag_index", 4),
    (lambda: FragSessionSetupAns(0, session_cnt_replay=True), "session_cnt_replay", True),
    (lambda: FragSessionDeleteReq(4), "frag_index", 4),
    (lambda: FragSessionDeleteAns(-1), "frag_index", -1),
    (lambda: FragDataBlockReceivedReq(4), "frag_index", 4),
    (lambda: FragDataBlockReceivedAns(4), "frag_index", 4),
]


@pytest.mark.parametrize(("build", "field", "value"), INVALID, ids=[f"{f}={v!r}" for _, f, v in INVALID])
def test_invalid_field_raises(build, field: str, value: object) -> None:
    with pytest.raises(FrameError) as info:
        build()
    assert f"{field} = {value!r}" in str(info.value)


@pytest.mark.parametrize(
    ("parse", "wire", "field"),
    [
        (DataFragment.parse, "080000aa", "n = 0"),
        (lambda d: FragSessionSetupReq.parse(d), "0211000030032701020304", "nb_frag = 0"),
        (lambda d: FragSessionSetupReq.parse(d), "0211004030032701020304", "nb_frag = 16384"),
        (lambda d: FragSessionSetupReq.parse(d), "02111f0130033001020304", "padding = 48"),
        (lambda d: FragSessionSetupReq.parse(d), "02111f0100030001020304", "frag_size = 0"),
        (PackageVersionAns.parse, "000401", "package_identifier = 4"),
        (PackageVersionAns.parse, "000303", "package_version = 3"),
    ],
)
def test_invalid_field_on_the_wire_raises(parse, wire: str, field: str) -> None:
    with pytest.raises(FrameError, match=field):
        parse(bytes.fromhex(wire))


@pytest.mark.parametrize(("version", "wire", "cmd"), FIXED_SIZE, ids=_ids(FIXED_SIZE))
def test_truncated_and_overlong_raise(version: int, wire: str, cmd: object) -> None:
    data = bytes.fromhex(wire)
    cls = type(cmd)
    name = rf"{cls.__name__} \(CID 0x{cls.CID:02x}\)"
    if len(data) > 1:
        with pytest.raises(FrameError, match=rf"{name} truncated: {len(data) - 2}-byte payload"):
            _dispatch(cls, data[:-1], version)
    with pytest.raises(FrameError, match=rf"{name} trailing bytes: {len(data)}-byte payload"):
        _dispatch(cls, data + b"\x00", version)


def test_data_fragment_truncated_header() -> None:
    for wire in ("08", "0800", "080084"):
        with pytest.raises(FrameError, match=r"DataFragment \(CID 0x08\) truncated"):
            parse_downlink(bytes.fromhex(wire))


@pytest.mark.parametrize(
    ("parse", "wire", "message"),
    [
        (parse_downlink, "", "empty downlink frame"),
        (parse_uplink, "", "empty uplink frame"),
        (parse_downlink, "0900", "unknown downlink CID 0x09 in TS004 v1 at byte 0 of a 2-byte frame"),
        (parse_uplink, "0800", "unknown uplink CID 0x08"),
        (parse_uplink, "0406", "unknown uplink CID 0x04 in TS004 v1"),  # v2.0.0 only
        (parse_downlink, "0402", "unknown downlink CID 0x04 in TS004 v1"),
        (FragSessionDeleteReq.parse, "0103", r"FragSessionDeleteReq \(CID 0x03\): frame starts with 0x01"),
        (FragSessionDeleteReq.parse, "", "frame starts with nothing"),
    ],
)
def test_unknown_or_wrong_cid_raises(parse, wire: str, message: str) -> None:
    with pytest.raises(FrameError, match=message):
        parse(bytes.fromhex(wire))


def test_bad_version_argument_raises() -> None:
    with pytest.raises(FrameError, match="version = 3"):
        parse_uplink(bytes.fromhex("000301"), version=3)
    with pytest.raises(FrameError, match="version = 0"):
        FragSessionStatusAns.parse(bytes.fromhex("011f410501"), version=0)


# Packed payloads --------------------------------------------------------------------------------------------


def test_parse_uplink_all_splits_answers() -> None:
    data = bytes.fromhex("00030201021f410503070406")
    assert parse_uplink_all(data, version=2) == [
        PackageVersionAns(package_version=2),
        FragSessionStatusAns(1, 287, 5, mic_error=True, version=2),
        FragSessionDeleteAns(3, session_does_not_exist=True),
        FragDataBlockReceivedReq(2, mic_error=True),
    ]


def test_parse_downlink_all_data_fragment_runs_to_the_end() -> None:
    data = bytes.fromhex("00010508008401020304")
    assert parse_downlink_all(data) == [
        PackageVersionReq(),
        FragSessionStatusReq(2, participants=True),
        DataFragment(2, 1024, b"\x01\x02\x03\x04"),
    ]
    assert parse_downlink_all(bytes.fromhex("0303")) == [FragSessionDeleteReq(3)]


@pytest.mark.parametrize(
    ("wire", "message"),
    [
        ("", "empty uplink frame"),
        ("000302011f41", r"at byte 3 of a 6-byte uplink frame: FragSessionStatusAns \(CID 0x01\) truncated"),
        ("000302ff", "unknown uplink CID 0xff in TS004 v1 at byte 3 of a 4-byte frame"),
    ],
)
def test_parse_all_errors(wire: str, message: str) -> None:
    with pytest.raises(FrameError, match=message):
        parse_uplink_all(bytes.fromhex(wire))


# v2 MIC -----------------------------------------------------------------------------------------------------

RFC4493_KEY = bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c")
RFC4493_MESSAGE = bytes.fromhex(
    "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411e5fbc1191a0a52ef"
    "f69f2445df4f9b17ad2b417be66c3710"
)


@pytest.mark.parametrize(
    ("length", "tag"),
    [
        (0, "bb1d6929e95937287fa37d129b756746"),
        (16, "070a16b46b4d4144f79bdd9dd04a287c"),
        (40, "dfa66747de9ae63030ca32611497c827"),
        (64, "51f0bebf7e3b9d92fc49741779363cfe"),
    ],
)
def test_aes_cmac_rfc4493(length: int, tag: str) -> None:
    assert aes_cmac(RFC4493_KEY, RFC4493_MESSAGE[:length]) == bytes.fromhex(tag)


def test_data_block_int_key_encrypts_0x30_block() -> None:
    encryptor = Cipher(algorithms.AES(RFC4493_KEY), modes.ECB()).encryptor()
    expected = encryptor.update(bytes.fromhex("30" + "00" * 15)) + encryptor.finalize()
    assert data_block_int_key(RFC4493_KEY) == expected
    assert len(expected) == 16


def test_data_block_mic_b0_layout() -> None:
    key = data_block_int_key(RFC4493_KEY)
    # 0x49, SessionCnt 0x0102 LE, FragIndex 1, Descriptor, 4 zero bytes, length 5 LE.
    b0 = bytes.fromhex("49 0201 01 01020304 00000000 05000000")
    assert len(b0) == 16
    expected = aes_cmac(key, b0 + b"hello")[:4]
    assert data_block_mic(key, 0x0102, 1, b"\x01\x02\x03\x04", b"hello") == expected


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ((bytes(15), 0, 0, bytes(4), b"x"), "key"),
        ((bytes(16), 65536, 0, bytes(4), b"x"), "session_cnt = 65536"),
        ((bytes(16), 0, 4, bytes(4), b"x"), "frag_index = 4"),
        ((bytes(16), 0, 0, bytes(3), b"x"), "descriptor"),
    ],
)
def test_data_block_mic_validates(args: tuple, field: str) -> None:
    with pytest.raises(FrameError, match=field):
        data_block_mic(*args)


APP_KEY = bytes(range(16))
BLOCK = bytes(range(256)) * 4 + b"tail"  # 1028 bytes: 22 fragments of 48, 28 bytes of padding


def _signed() -> FragSessionSetupReq:
    return FragSessionSetupReq.signed(
        APP_KEY, BLOCK, frag_index=2, mc_group_bit_mask=0b0011, frag_size=48, session_cnt=7,
        descriptor=b"\xde\xad\xbe\xef", block_ack_delay=2, ack_reception=True,
    )  # fmt: skip


def test_signed_setup_req() -> None:
    req = _signed()
    assert (req.version, req.nb_frag, req.padding, req.data_length) == (2, 22, 28, len(BLOCK))
    key = data_block_int_key(APP_KEY)
    assert req.mic == data_block_mic(key, 7, 2, b"\xde\xad\xbe\xef", BLOCK)
    req.verify_mic(APP_KEY, BLOCK)
    parsed = FragSessionSetupReq.parse(req.encode(), version=2)
    assert parsed == req
    parsed.verify_mic(APP_KEY, BLOCK)


def test_signed_exact_multiple_has_no_padding() -> None:
    req = FragSessionSetupReq.signed(APP_KEY, bytes(96), frag_index=0, mc_group_bit_mask=1, frag_size=48, session_cnt=0)
    assert (req.nb_frag, req.padding) == (2, 0)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda req: (APP_KEY, BLOCK[:-1] + b"X"), r"MIC mismatch: expected [0-9a-f]{8}, got [0-9a-f]{8}"),
        (lambda req: (bytes(16), BLOCK), "MIC mismatch: expected"),
        (lambda req: (APP_KEY, BLOCK + bytes(28)), "len\\(data\\) = 1056"),
    ],
)
def test_verify_mic_rejects(change, message: str) -> None:
    req = _signed()
    with pytest.raises(MICError, match=message):
        req.verify_mic(*change(req))


def test_verify_mic_names_expected_and_got() -> None:
    req = dataclasses.replace(_signed(), mic=bytes.fromhex("01020304"))
    with pytest.raises(MICError) as info:
        req.verify_mic(APP_KEY, BLOCK)
    assert f"expected {_signed().mic.hex()}, got 01020304" in str(info.value)


def test_v1_setup_req_has_no_mic() -> None:
    with pytest.raises(FrameError, match=r"v1\.0\.0 has no MIC") as info:
        _setup().verify_mic(APP_KEY, bytes(_setup().data_length))
    assert not isinstance(info.value, MICError)


def test_signed_validates_fields() -> None:
    with pytest.raises(FrameError, match="frag_size = 0"):
        FragSessionSetupReq.signed(APP_KEY, BLOCK, frag_index=0, mc_group_bit_mask=1, frag_size=0, session_cnt=0)
    with pytest.raises(FrameError, match="nb_frag = 0"):
        FragSessionSetupReq.signed(APP_KEY, b"", frag_index=0, mc_group_bit_mask=1, frag_size=48, session_cnt=0)
    with pytest.raises(FrameError, match="session_cnt = -1"):
        FragSessionSetupReq.signed(APP_KEY, BLOCK, frag_index=0, mc_group_bit_mask=1, frag_size=48, session_cnt=-1)
    with pytest.raises(FrameError, match="app_key"):
        FragSessionSetupReq.signed(b"short", BLOCK, frag_index=0, mc_group_bit_mask=1, frag_size=48, session_cnt=0)
