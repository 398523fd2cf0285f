"""What would a leakhunt trace weigh with another codec? (bench experiment)

usage: recompress.py TRACE.lht [EVENTS]

Walks the chunks of a trace (FORMAT.md sections 1-3), decompresses each LZ4
block and compresses the same protobuf payload again with zstd at a few
levels, per chunk and also as one stream of all event chunks (the long
window heaptrack's zstd enjoys). Prints sizes and, given EVENTS, bytes/event.
Uses liblz4 and libzstd through ctypes; nothing to install.
"""
import ctypes
import struct
import sys
import time

lz4 = ctypes.CDLL("liblz4.so.1")
zstd = ctypes.CDLL("libzstd.so.1")
zstd.ZSTD_compressBound.restype = ctypes.c_size_t
zstd.ZSTD_compress.restype = ctypes.c_size_t
zstd.ZSTD_compress.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
zstd.ZSTD_isError.argtypes = [ctypes.c_size_t]


def unlz4(block, raw_size):
    if raw_size == 0:
        return b""
    out = ctypes.create_string_buffer(raw_size)
    n = lz4.LZ4_decompress_safe(block, out, len(block), raw_size)
    if n != raw_size:
        raise ValueError("bad LZ4 block")
    return out.raw


def zcompress(data, level):
    cap = zstd.ZSTD_compressBound(len(data))
    out = ctypes.create_string_buffer(cap)
    n = zstd.ZSTD_compress(out, cap, data, len(data), level)
    if zstd.ZSTD_isError(n):
        raise ValueError("zstd error")
    return n


path = sys.argv[1]
events = int(sys.argv[2]) if len(sys.argv) > 2 else 0
data = open(path, "rb").read()
pos, total_lz4, raws = 16, 16, []
while pos + 16 < len(data):  # the last 16 bytes are the trailer
    typ, packed, raw, _ = struct.unpack_from("<IIII", data, pos)
    payload = data[pos + 16:pos + 16 + packed]
    raws.append((typ, unlz4(payload, raw)))
    total_lz4 += 16 + packed
    pos += 16 + packed

raw_total = sum(len(r) for _, r in raws)
print(f"{path}: {len(raws)} chunks, file {len(data)} B, protobuf payloads {raw_total} B")
rows = [("LZ4 (as written)", len(data), 0.0)]
for level in (1, 3, 9):
    t0 = time.perf_counter()
    size = 16 + 16 + sum(16 + zcompress(r, level) for _, r in raws)
    rows.append((f"zstd -{level} per chunk", size, time.perf_counter() - t0))
for level in (1, 3):
    t0 = time.perf_counter()
    size = 32 + zcompress(b"".join(r for _, r in raws), level)
    rows.append((f"zstd -{level} one stream", size, time.perf_counter() - t0))
for name, size, secs in rows:
    bpe = f"{size / events:.3f} B/event" if events else ""
    rate = f"{raw_total / secs / 1e6:.0f} MB/s raw in" if secs else ""
    print(f"  {name:<22} {size:>12} B  {bpe:>16}  {rate}")

# Where the bytes of the event chunks go: each packed column of EventBatch
# (trace.proto) on its own, raw and with zstd -1 over all chunks' copies.
COLUMNS = {3: "kinds", 4: "threads", 5: "time_deltas", 6: "addr_deltas", 7: "sizes",
           8: "stacks", 9: "old_addr_deltas", 10: "addr_refs"}


def varint(buf, i):
    v = shift = 0
    while True:
        b = buf[i]; i += 1
        v |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return v, i


cols = {}
for typ, msg in raws:
    if typ != 5:
        continue
    i = 0
    while i < len(msg):
        key, i = varint(msg, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            _, i = varint(msg, i)
        elif wire == 2:
            n, i = varint(msg, i)
            if field in COLUMNS:
                cols.setdefault(COLUMNS[field], []).append(msg[i:i + n])
            i += n
        elif wire == 1:
            i += 8
        elif wire == 5:
            i += 4
        else:
            break
print("  event columns (all chunks): raw bytes, zstd -1 bytes" + (", zstd -1 B/event" if events else ""))
for name in COLUMNS.values():
    if name in cols:
        raw = b"".join(cols[name])
        z = zcompress(raw, 1)
        print(f"    {name:<16} {len(raw):>12} {z:>12}" + (f"  {z / events:.3f}" if events else ""))
