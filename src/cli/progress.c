/* Training progress on stderr: a bar with step rate, loss and ETA redrawn in place (at most ten
 * times a second) when stderr is a terminal; plain lines every `every` steps otherwise, so that
 * logs and CI output stay readable. */
#define _POSIX_C_SOURCE 200809L

#include "cli/cli.h"

#include <math.h>
#include <unistd.h>

void cli_progress_init(struct cli_progress *p, int64_t step0, int64_t total, int64_t every)
{
	p->tty = isatty(STDERR_FILENO);
	p->quiet = false;
	p->t0 = cli_now();
	p->last_draw = 0;
	p->step0 = step0;
	p->total = total;
	p->every = every > 0 ? every : 50;
}

static void fmt_eta(char *buf, size_t size, double s)
{
	if (!isfinite(s) || s < 0)
		snprintf(buf, size, "?");
	else if (s >= 3600)
		snprintf(buf, size, "%d:%02d:%02d", (int)(s / 3600), (int)fmod(s / 60, 60), (int)fmod(s, 60));
	else
		snprintf(buf, size, "%d:%02d", (int)(s / 60), (int)fmod(s, 60));
}

void cli_progress_update(struct cli_progress *p, int64_t epoch, int64_t epochs, int64_t step, double loss)
{
	if (p->quiet)
		return;
	double now = cli_now(), dt = now - p->t0;
	double rate = dt > 0 ? (double)(step - p->step0) / dt : 0;
	char eta[32];
	fmt_eta(eta, sizeof eta, rate > 0 ? (double)(p->total - step) / rate : NAN);
	if (p->tty) {
		if (now - p->last_draw < 0.1 && step < p->total)
			return;
		p->last_draw = now;
		int width = 24, fill = p->total > 0 ? (int)((double)width * (double)step / (double)p->total) : 0;
		char bar[32];
		for (int i = 0; i < width; i++)
			bar[i] = i < fill ? '#' : '.';
		bar[width] = 0;
		fprintf(stderr, "\r  epoch %lld/%lld [%s] %lld/%lld  %.1f steps/s  loss %.4f  ETA %s\033[K",
			(long long)epoch + 1, (long long)epochs, bar, (long long)step, (long long)p->total, rate, loss,
			eta);
		fflush(stderr);
	} else if (step % p->every == 0 || step == p->total) {
		fprintf(stderr, "  epoch %lld/%lld step %lld/%lld  %.1f steps/s  loss %.4f  ETA %s\n",
			(long long)epoch + 1, (long long)epochs, (long long)step, (long long)p->total, rate, loss, eta);
	}
}

void cli_progress_done(struct cli_progress *p)
{
	if (p->tty && !p->quiet) {
		fputc('\n', stderr);
		fflush(stderr);
	}
}
