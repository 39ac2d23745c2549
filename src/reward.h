/*
 * reward: the points a vote is worth.
 *
 * Promises: reward_base, plus reward_monthly when streak_day is a
 * multiple of 30, else reward_weekly when it is a multiple of 7.  A
 * streak_day of 0 means "no streak info" and earns the base.
 */
#ifndef MMOLOVE_REWARD_H
#define MMOLOVE_REWARD_H

#include "config.h"

long	reward_for(const struct config *cfg, long long streak_day);

#endif
