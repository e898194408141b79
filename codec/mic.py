"""The TS004 v2.0.0 data-block MIC that FragSessionSetupReq carries (LBM and ChirpStack flavour).

The device checks it after reconstructing the block, so it is the only thing that catches a server and a
device disagreeing on the parity matrix (see TS004-NOTES.md §2.5): a wrong matrix otherwise "succeeds"
with garbage.
"""

from __future__ import annotations

import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.cmac import CMAC

from codec.errors import FrameError, out_of_range

__all__ = ["aes_cmac", "data_block_int_key", "data_block_mic"]


def _check_key(name: str, key: bytes) -> None:
    if not isinstance(key, bytes | bytearray) or len(key) != 16:
        shown = f"{len(key)} bytes" if isinstance(key, bytes | bytearray) else key
        raise out_of_range(FrameError, name, shown, "16 bytes (an AES-128 key)")


def aes_cmac(key: bytes, message: bytes) -> bytes:
    """Return the 16-byte AES-CMAC (RFC 4493) of `message` under the AES-128 `key`."""
    _check_key("key", key)
    mac = CMAC(algorithms.AES(bytes(key)))
    mac.update(bytes(message))
    return mac.finalize()


def data_block_int_key(app_key: bytes) -> bytes:
    """Derive DataBlockIntKey = AES-128-encrypt(app_key, 0x30 followed by 15 zero bytes).

    LoRaWAN 1.0.x devices use GenAppKey here and 1.1 devices AppKey (ChirpStack's choice); pass whichever the
    device holds in its AppKey slot.
    """
    _check_key("app_key", app_key)
    # A single-block ECB encryption is how the key derivation is specified; nothing is chained.
    encryptor = Cipher(algorithms.AES(bytes(app_key)), modes.ECB()).encryptor()
    return encryptor.update(b"\x30" + bytes(15)) + encryptor.finalize()


def data_block_mic(key: bytes, session_cnt: int, frag_index: int, descriptor: bytes, data: bytes) -> bytes:
    """Return the 4-byte MIC of the unpadded data block `data` under DataBlockIntKey `key`.

    MIC = AES-CMAC(key, B0 ‖ data)[:4] with B0 = 0x49, SessionCnt (2 LE), FragIndex, Descriptor (4),
    four zero bytes, len(data) (4 LE).
    """
    _check_key("key", key)
    if isinstance(session_cnt, bool) or not isinstance(session_cnt, int) or not 0 <= session_cnt <= 0xFFFF:
        raise out_of_range(FrameError, "session_cnt", session_cnt, "0..65535")
    if isinstance(frag_index, bool) or not isinstance(frag_index, int) or not 0 <= frag_index <= 3:
        raise out_of_range(FrameError, "frag_index", frag_index, "0..3")
    if not isinstance(descriptor, bytes | bytearray) or len(descriptor) != 4:
        raise out_of_range(FrameError, "descriptor", descriptor, "4 bytes")
    # NbFrag ≤ 16383 and FragSize ≤ 255 keep a real block far below the 4-byte length field's limit.
    b0 = struct.pack("<BHB4s4xI", 0x49, session_cnt, frag_index, bytes(descriptor), len(data))
    return aes_cmac(key, b0 + bytes(data))[:4]
