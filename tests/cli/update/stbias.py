import json, struct, sys
# prints the e_score_correction_bias tensors of a safetensors file as floats
f = open(sys.argv[1], 'rb'); n = struct.unpack('<Q', f.read(8))[0]; h = json.loads(f.read(n)); base = 8 + n
for k in sorted(h):
    if k.endswith('e_score_correction_bias'):
        a, b = h[k]['data_offsets']; f.seek(base + a)
        print(k, ' '.join('%.6g' % x for x in struct.unpack('<%df' % ((b - a) // 4), f.read(b - a))))
