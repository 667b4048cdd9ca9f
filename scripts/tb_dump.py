#!/usr/bin/env python3
"""Reads a TensorBoard event file independently of selfsup's writer and prints its scalars.

Why: TensorBoard itself is not packaged in Debian 12, so the event files that `selfsup train`
writes are checked here against the format TensorBoard reads, written from its description and
not from selfsup's code: TFRecord framing (uint64 length, masked CRC-32C of the length, the
record, masked CRC-32C of the record; mask = rotate right by 15 + 0xa282ead8) around serialized
`Event` protocol buffers (wall_time = field 1 double, step = 2 varint, file_version = 3 string,
summary = 5 message; Summary.value = 1 message; Value.tag = 1 string, simple_value = 2 float).

Usage: scripts/tb_dump.py EVENT_FILE    prints "step<TAB>tag<TAB>value" lines; exit 1 on any
framing, checksum or protobuf error.
"""
import struct
import sys


def crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def masked(data):
    c = crc32c(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def varint(buf, i):
    shift = value = 0
    while True:
        if i >= len(buf):
            raise ValueError("truncated varint")
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, i


def fields(buf):
    """(field number, wire type, value) of one protobuf message; nested messages stay bytes."""
    i = 0
    while i < len(buf):
        key, i = varint(buf, i)
        num, wire = key >> 3, key & 7
        if wire == 0:
            v, i = varint(buf, i)
        elif wire == 1:
            v, i = buf[i:i + 8], i + 8
        elif wire == 2:
            n, i = varint(buf, i)
            v, i = buf[i:i + n], i + n
        elif wire == 5:
            v, i = buf[i:i + 4], i + 4
        else:
            raise ValueError("unsupported wire type %d" % wire)
        if i > len(buf):
            raise ValueError("field %d runs past its message" % num)
        yield num, wire, v


def records(path):
    with open(path, "rb") as f:
        data = f.read()
    i = 0
    while i < len(data):
        if i + 12 > len(data):
            raise ValueError("truncated record header at byte %d" % i)
        header = data[i:i + 8]
        (n,) = struct.unpack("<Q", header)
        (hcrc,) = struct.unpack("<I", data[i + 8:i + 12])
        if hcrc != masked(header):
            raise ValueError("length checksum mismatch at byte %d" % i)
        body = data[i + 12:i + 12 + n]
        if len(body) != n or i + 16 + n > len(data):
            raise ValueError("truncated record at byte %d" % i)
        (dcrc,) = struct.unpack("<I", data[i + 12 + n:i + 16 + n])
        if dcrc != masked(body):
            raise ValueError("record checksum mismatch at byte %d" % i)
        yield body
        i += 16 + n


def main():
    if len(sys.argv) != 2:
        sys.stderr.write(__doc__)
        return 2
    try:
        first = True
        for rec in records(sys.argv[1]):
            step, version, values = 0, None, []
            for num, wire, v in fields(rec):
                if num == 2 and wire == 0:
                    step = v
                elif num == 3 and wire == 2:
                    version = v.decode()
                elif num == 5 and wire == 2:
                    for snum, _, sval in fields(v):
                        if snum != 1:
                            continue
                        tag, value = None, None
                        for vnum, vwire, vv in fields(sval):
                            if vnum == 1 and vwire == 2:
                                tag = vv.decode()
                            elif vnum == 2 and vwire == 5:
                                (value,) = struct.unpack("<f", vv)
                        if tag is None or value is None:
                            raise ValueError("summary value without tag or simple_value")
                        values.append((tag, value))
            if first and version != "brain.Event:2":
                raise ValueError("first event is not file_version brain.Event:2")
            first = False
            for tag, value in values:
                print("%d\t%s\t%.9g" % (step, tag, value))
    except (ValueError, UnicodeDecodeError) as e:
        sys.stderr.write("tb_dump: %s: %s\n" % (sys.argv[1], e))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
