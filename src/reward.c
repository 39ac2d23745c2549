#include "reward.h"

long
reward_for(const struct config *cfg, long long streak_day)
{
	if (streak_day <= 0)
		return cfg->reward_base;
	if (streak_day % 30 == 0)
		return cfg->reward_base + cfg->reward_monthly;
	if (streak_day % 7 == 0)
		return cfg->reward_base + cfg->reward_weekly;
	return cfg->reward_base;
}
