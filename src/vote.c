#include "vote.h"

const char *
vote_mode_name(enum vote_mode mode)
{
	return mode == VOTE_LEGACY ? "legacy" : "post";
}
