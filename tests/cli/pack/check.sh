# pack --check catches each kind of corruption of a packed stream.
. "$TESTDIR/samples.inc"
pack -L 10 samples.jsonl >ok.jsonl 2>/dev/null &&
corrupt() {
    jq -c "$1" ok.jsonl >bad.jsonl
    pack --check -L 10 bad.jsonl 2>&1 >/dev/null
    echo "exit $?"
}
corrupt 'if .segments == [9] then .segments = [8] else . end' &&
corrupt 'if .segments == [9] then .segments = [9, 0] else . end' &&
corrupt 'if .segments == [9] then .ids = .ids + [1] | .segments = [10] | .loss_mask += [1] else . end' &&
corrupt 'if .segments == [9] then .loss_mask = .loss_mask[1:] else . end' &&
corrupt 'if .segments == [9] then .loss_mask[0] = 1 else . end' &&
corrupt 'if .segments == [9] then .loss_mask[4] = 2 else . end' &&
corrupt 'if .segments == [9] then .old_logprobs = .old_logprobs[:-1] else . end' &&
corrupt 'if .segments == [9] then .ref_logprobs[0] = -1 else . end' &&
corrupt 'if .segments == [9] then .old_logprobs[5] = 0.25 else . end' &&
corrupt 'if .segments == [9] then .advantage = [1, 2] else . end' &&
corrupt 'if .segments == [9] then .src = [] else . end' &&
corrupt 'if .segments == [9] then .ids[0] = 1.5 else . end' &&
corrupt 'if .segments == [9] then .ids = .ids + [1, 2] | .segments = [11] | .loss_mask += [1, 1] | del(.old_logprobs, .ref_logprobs) else . end' &&
corrupt 'if .segments == [9] then del(.loss_mask) else . end' &&
corrupt 'if .segments == [9] then .pair = [0] else . end' &&
echo '{"ids":[1,2,3,4],"segments":[2,2],"loss_mask":[0,1,0,1],"pair":[1,0],"margin":[1,2]}' >bad.jsonl &&
{ pack --check bad.jsonl; echo "exit $?"; } 2>&1 &&
echo 'not json' >bad.jsonl && { pack --check bad.jsonl; echo "exit $?"; } 2>&1 &&
pack --check -q ok.jsonl && echo ok
