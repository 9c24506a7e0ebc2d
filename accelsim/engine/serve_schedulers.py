"""Iteration-level schedulers of one serving replica, over a paged KV cache.

The KV cache is a pool of blocks of `block_size` tokens (vLLM's PagedAttention, Kwon et al. SOSP
2023). A request's prefill computes the keys and values of every token it knows (its prompt, and
after a preemption the tokens it had generated too) and emits a token; each decode step attends
over its cached tokens plus the last one, caches that one and emits the next.

- static (FasterTransformer): a batch of up to max_batch waiting requests whose whole prompt +
  output fits the free blocks runs to completion: one prefill padded to its longest prompt, then
  decode steps for every member (padded, finished or not) until the longest output is done; no
  request joins or leaves, and all return when the batch ends (Yu et al., Orca, OSDI 2022, §2.2).
- continuous (Orca / vLLM): each iteration either prefills newly admitted requests (FIFO, up to the
  token budget and max_batch running, if their prompts' blocks are free) or, with none to admit,
  decodes one token for every running request; a decode that needs a block when none is free
  preempts the most recently admitted request, which frees its blocks and waits to be recomputed.
- chunked (Sarathi-Serve, Agrawal et al., OSDI 2024): each iteration holds every decode, then
  prefill chunks of admitted and newly admitted requests up to the token budget, so prefills never
  stall decodes.
"""

from __future__ import annotations

from collections import deque

SCHEDULERS = ("static", "continuous", "chunked")


def blocks_for(tokens: int, block_size: int) -> int:
    """Blocks holding `tokens` tokens."""
    return -(-tokens // block_size)


class Request:
    """One request's state on a replica."""

    __slots__ = ("index", "arrival", "prompt", "output", "target", "cached", "generated", "blocks",
                 "first_token", "last_token", "finish", "preemptions", "gaps")

    def __init__(self, index: int, arrival: float, prompt: int, output: int):
        self.index, self.arrival, self.prompt, self.output = index, arrival, prompt, output
        self.target = self.cached = self.generated = self.blocks = self.preemptions = 0
        self.first_token = self.last_token = self.finish = None
        self.gaps: list[float] = []

    @property
    def prefilling(self) -> bool:
        """Whether its known tokens are not all cached yet."""
        return self.cached < self.target

    def emit(self, now: float) -> None:
        """One more output token at `now`."""
        if self.first_token is None:
            self.first_token = now
        else:
            self.gaps.append(now - self.last_token)
        self.last_token = now
        self.generated += 1


class Replica:
    """A replica's queues and KV block pool."""

    def __init__(self, total_blocks: int, block_size: int, max_batch: int, token_budget: int):
        self.total_blocks = self.free_blocks = total_blocks
        self.block_size, self.max_batch, self.token_budget = block_size, max_batch, token_budget
        self.waiting: deque[Request] = deque()
        self.running: list[Request] = []
        self.peak_blocks = 0
        self.preemptions = 0
        self.static_batch: list[Request] = []
        self.static_step = 0

    @property
    def outstanding(self) -> int:
        """Requests routed here and not finished."""
        return len(self.waiting) + len(self.running)

    def _grow(self, request: Request, tokens: int) -> bool:
        """Give `request` blocks for `tokens` cached tokens; False if the pool is short."""
        need = blocks_for(tokens, self.block_size) - request.blocks
        if need > self.free_blocks:
            return False
        if need > 0:
            self.free_blocks -= need
            request.blocks += need
            self.peak_blocks = max(self.peak_blocks, self.total_blocks - self.free_blocks)
        return True

    def release(self, request: Request) -> None:
        """Return a request's blocks to the pool."""
        self.free_blocks += request.blocks
        request.blocks = 0

    def _admit(self, request: Request, reserve: int) -> bool:
        """Move the first waiting request to running with blocks for `reserve` tokens, if free."""
        if not self._grow(request, reserve):
            return False
        self.waiting.popleft()
        request.target = request.prompt + request.generated
        self.running.append(request)
        return True

    def _preempt(self) -> None:
        """Preempt the most recently admitted running request (recompute later)."""
        victim = self.running.pop()
        self.release(victim)
        victim.cached = victim.target = 0
        victim.preemptions += 1
        self.preemptions += 1
        self.waiting.appendleft(victim)

    def _decodes(self) -> list[Request]:
        """Running requests that decode this iteration, each with a block for its new token;
        preempts the newest running requests while the pool is short."""
        decoding = []
        i = 0
        while i < len(self.running):
            request = self.running[i]
            if request.prefilling:
                i += 1
                continue
            while not self._grow(request, request.cached + 1) and request is not self.running[-1]:
                self._preempt()
            if request.blocks * self.block_size < request.cached + 1:
                self._preempt()         # the request itself is the newest: it waits
                continue
            decoding.append(request)
            i += 1
        return decoding

    def plan(self, scheduler: str):
        """(prefill chunks [(request, new tokens)], decoding requests) of the next iteration, or
        None when there is nothing to run."""
        if scheduler == "static":
            return self._plan_static()
        if scheduler == "continuous":
            chunks = self._admit_prefills(self.token_budget, whole=True)
            return (chunks, []) if chunks else self._nonempty([], self._decodes())
        decoding = self._decodes()
        budget = self.token_budget - len(decoding)
        chunks = []
        for request in self.running:
            if request.prefilling and budget > 0:
                new = min(request.target - request.cached, budget)
                chunks.append((request, new))
                budget -= new
        chunks += self._admit_prefills(budget, whole=False)
        return self._nonempty(chunks, decoding)

    @staticmethod
    def _nonempty(chunks, decoding):
        """The plan, or None if it runs nothing."""
        return (chunks, decoding) if chunks or decoding else None

    def _admit_prefills(self, budget: int, whole: bool) -> list:
        """Admit waiting requests FIFO while the budget, max_batch and free blocks allow; their
        first prefill chunks (whole prompts if `whole`)."""
        chunks = []
        while self.waiting and budget > 0 and len(self.running) < self.max_batch:
            request = self.waiting[0]
            tokens = request.prompt + request.generated
            if whole and tokens > budget and chunks:
                break
            if not self._admit(request, tokens):
                break
            new = tokens if whole else min(tokens, budget)
            chunks.append((request, new))
            budget -= new
        return chunks

    def _plan_static(self):
        """The static batch's next iteration, forming a new batch when the last one is done."""
        if not self.static_batch:
            while self.waiting and len(self.static_batch) < self.max_batch:
                request = self.waiting[0]
                if not self._admit(request, request.prompt + request.output):
                    break
                self.static_batch.append(request)
            if not self.static_batch:
                return None
            self.static_step = 0
            longest = max(r.prompt for r in self.static_batch)
            return [(r, longest) for r in self.static_batch], []
        return [], list(self.static_batch)
