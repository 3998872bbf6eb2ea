# One line of RUN/metrics.jsonl from a step's files, read with jq -s:
# .[0] stats of the scored samples, .[1] the same with the accuracy key,
# .[2] the step's groups (draws: prompts sampled, groups: those whose
# rewards are not all equal), .[3:] update's metrics lines (the last one
# is the step's end).  reward_by_domain: the samples' mean reward per
# domain (stats' domains), so a multi-domain run shows each domain's curve.
.[0] as $st | .[1] as $acc | .[2] as $gr | (.[3:] | last) as $m
| {step: $step,
   reward: $st.reward_mean,
   reward_by_domain: ($st.domains // {} | map_values(.reward_mean)),
   accuracy: $acc.accuracy,
   draws: $gr.draws,
   groups: $gr.groups,
   completion_tokens: $st.tokens.mean,
   loss: $m.loss,
   kl: $m.kl,
   clip_frac: $m.clip_frac,
   entropy: $m.entropy,
   grad_norm: $m.grad_norm}
