# The held-out figures of pipelines/multi-demo.sh from one evaluation's
# scored samples (jq -s): per domain, the mean reward; for code also the
# share of programs passing every test; for chat also the share of answers
# with both properties the preference pairs prefer, checked by rule (the
# answer opens with the prompt's topic, "Owls are ", and ends in "Thank
# you for asking!"), beside the reward model's score.
def mean(f): if length == 0 then null else map(f) | add / length end;
def topic: .prompt | split(" ") | last | rtrimstr(".") | rtrimstr("?");
def good: topic as $t | (.completion | startswith(($t[:1] | ascii_upcase) + $t[1:] + " are "))
    and (.completion | rtrimstr("\n") | endswith("Thank you for asking!"));
{step: $step,
 math: (map(select(.domain == "math")) | {n: length, reward: mean(.rewards.math)}),
 code: (map(select(.domain == "code")) | {n: length, reward: mean(.rewards.code),
        all: mean(if .rewards.code == 1 then 1 else 0 end)}),
 chat: (map(select(.domain == "chat")) | {n: length, reward: mean(.rewards.rm),
        good: mean(if good then 1 else 0 end)}),
 tokens: mean(.completion_ids | length)}
