# mmolove.cgi — see README.md.  `make`, `make test`, `make demo`.

PREFIX	?= /usr/local
DESTDIR	?=
CONFIG	?= /etc/mmolove/mmolove.conf
STATE_DIR ?= /var/lib/mmolove
SQLITE_DB ?= $(STATE_DIR)/points.sqlite
VERSION	 = 0.1.0

CC	?= cc
WARN	 = -Wall -Wextra -Wpedantic -Werror -Wshadow -Wconversion
HARDEN	 = -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE
CFLAGS	?= -O2 -g
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(HARDEN) $(CFLAGS) \
	-DMMOLOVE_DEFAULT_CONFIG='"$(CONFIG)"' -DMMOLOVE_VERSION='"$(VERSION)"'
LDHARDEN = -pie -Wl,-z,relro,-z,now

# libcrypto and libfcgi are linked from their static archives: loading
# libcrypto.so costs a CGI process ~2.4 ms at every exec, more than the
# rest of a request.  Only SHA-256 and CRYPTO_memcmp are pulled in.
# `make CRYPTO_LIBS=-lcrypto FCGI_LIBS=-lfcgi` links them dynamically.
CRYPTO_LIBS ?= -l:libcrypto.a
FCGI_LIBS ?= -l:libfcgi.a
LIBS	 = $(FCGI_LIBS) $(CRYPTO_LIBS)

SRCS	 = src/cli.c src/config.c src/digest.c src/event.c src/fastcgi.c \
	   src/grant.c src/json.c src/ledger.c src/legacy.c src/log.c \
	   src/queue.c src/request.c src/request_io.c src/response.c \
	   src/reward.c src/secret.c src/signature.c src/text.c src/vote.c
OBJS	 = $(SRCS:.c=.o)
HDRS	 = $(wildcard src/*.h)

all: mmolove.cgi

mmolove.cgi: mmolove.cgi.o $(OBJS)
	$(CC) $(LDHARDEN) $(LDFLAGS) -o $@ mmolove.cgi.o $(OBJS) $(LIBS)

%.o: %.c $(HDRS)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

clean:
	rm -f mmolove.cgi mmolove.cgi.o $(OBJS)
	rm -rf build

.PHONY: all clean
