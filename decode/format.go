package decode

import (
	"context"
	"fmt"
)

// Format formats data as kind k. It returns an error (and no Doc) when data
// is not valid as k, e.g. "decode: msgpack: unexpected end at byte 13". It
// checks ctx between steps of long work, so a formatting the user abandoned
// stops early. The Doc may keep data, which the caller must then leave
// unchanged.
func Format(ctx context.Context, k Kind, data []byte, opts Options) (Doc, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	switch k {
	case Text:
		return formatText(ctx, data, opts)
	case JSON:
		d, err := formatJSON(ctx, data, opts)
		if err != nil {
			return nil, err
		}
		return d, nil
	case Hex:
		return newHexDoc(data), nil
	case MsgPack:
		return formatMsgPack(ctx, data, opts)
	case CBOR:
		return formatCBOR(ctx, data, opts)
	case Protobuf:
		return formatProtobuf(ctx, data, opts)
	case SocketIO:
		return formatSocketIO(ctx, data, opts)
	case MQTT:
		return formatMQTT(ctx, data, opts)
	}
	return nil, fmt.Errorf("decode: unknown kind %d", uint8(k))
}
