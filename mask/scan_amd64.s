//go:build amd64 && !purego

#include "textflag.h"

// Nibble tables for VPSHUFB: a byte is in a class when the bit of the class is set both
// in lo's entry for its low nibble and in hi's for its high nibble (bytes 0x80 and up
// are in none: hi has no entry for them). See classifyAVX2 in scan_amd64.go.
DATA lo1<>+0(SB)/8, $0x1919191919191d33
DATA lo1<>+8(SB)/8, $0x2848280808181919
GLOBL lo1<>(SB), RODATA|NOPTR, $16
DATA hi1<>+0(SB)/8, $0x1008100807600000
DATA hi1<>+8(SB)/8, $0x0000000000000000
GLOBL hi1<>(SB), RODATA|NOPTR, $16
DATA lo2<>+0(SB)/8, $0x0000000000000001
DATA lo2<>+8(SB)/8, $0x0400000460120880
GLOBL lo2<>(SB), RODATA|NOPTR, $16
DATA hi2<>+0(SB)/8, $0x0000043902c00000
DATA hi2<>+8(SB)/8, $0x0000000000000000
GLOBL hi2<>(SB), RODATA|NOPTR, $16
DATA nibble<>+0(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA nibble<>+8(SB)/8, $0x0f0f0f0f0f0f0f0f
GLOBL nibble<>(SB), RODATA|NOPTR, $16

// MASK moves bit b of each byte of the class bytes of both halves to the bitmap at
// off(DI): the first half's bits from bit 0, the second's from bit CX.
#define MASK(b, off) \
	VPSLLW $(7-b), Y3, Y14 \
	VPMOVMSKB Y14, AX \
	VPSLLW $(7-b), Y6, Y14 \
	VPMOVMSKB Y14, BX \
	SHLQ CX, BX \
	ORQ BX, AX \
	MOVQ AX, off(DI)

// MASK7 is MASK(7, off): bit 7 needs no shift.
#define MASK7(off) \
	VPMOVMSKB Y3, AX \
	VPMOVMSKB Y6, BX \
	SHLQ CX, BX \
	ORQ BX, AX \
	MOVQ AX, off(DI)

// func classifyAVX2(p *byte, n int, out *[15]uint64)
TEXT ·classifyAVX2(SB), NOSPLIT, $0-24
	MOVQ p+0(FP), SI
	MOVQ n+8(FP), CX
	MOVQ out+16(FP), DI
	VBROADCASTI128 nibble<>(SB), Y8
	VBROADCASTI128 lo1<>(SB), Y9
	VBROADCASTI128 hi1<>(SB), Y10
	VBROADCASTI128 lo2<>(SB), Y11
	VBROADCASTI128 hi2<>(SB), Y12
	SUBQ $32, CX
	VMOVDQU (SI), Y0
	VMOVDQU (SI)(CX*1), Y4

	// Non-zero when a byte is 0x80 or more (a flag, not a bitmap: the halves overlap).
	VPMOVMSKB Y0, AX
	VPMOVMSKB Y4, BX
	ORQ BX, AX
	MOVQ AX, 112(DI)

	// The first 32 bytes: classes in Y3, rare bytes in Y5.
	VPSRLW $4, Y0, Y1
	VPAND Y8, Y1, Y1
	VPAND Y8, Y0, Y2
	VPSHUFB Y2, Y9, Y3
	VPSHUFB Y1, Y10, Y14
	VPAND Y14, Y3, Y3
	VPSHUFB Y2, Y11, Y5
	VPSHUFB Y1, Y12, Y14
	VPAND Y14, Y5, Y5

	// The last 32: Y6 and Y7.
	VPSRLW $4, Y4, Y1
	VPAND Y8, Y1, Y1
	VPAND Y8, Y4, Y2
	VPSHUFB Y2, Y9, Y6
	VPSHUFB Y1, Y10, Y14
	VPAND Y14, Y6, Y6
	VPSHUFB Y2, Y11, Y7
	VPSHUFB Y1, Y12, Y14
	VPAND Y14, Y7, Y7

	MASK(0, 0)  // digits
	MASK(1, 8)  // '0'
	MASK(2, 16) // '1'
	MASK(5, 32) // ' ', '-', '/'
	MASK(6, 40) // '.'

	// letters: bits 3 and 4
	VPSLLW $4, Y3, Y14
	VPSLLW $3, Y3, Y0
	VPOR Y0, Y14, Y14
	VPMOVMSKB Y14, AX
	VPSLLW $4, Y6, Y14
	VPSLLW $3, Y6, Y0
	VPOR Y0, Y14, Y14
	VPMOVMSKB Y14, BX
	SHLQ CX, BX
	ORQ BX, AX
	MOVQ AX, 24(DI)

	// The rare bytes, one bit each: '@', ':', '_' and '\\', 'I', 'J', 'K', '+', '('.
	VMOVDQU Y5, Y3
	VMOVDQU Y7, Y6
	MASK(0, 48)
	MASK(1, 56)
	MASK(2, 64)
	MASK(3, 72)
	MASK(4, 80)
	MASK(5, 88)
	MASK(6, 96)
	MASK7(104)

	VZEROUPPER
	RET

// func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)
TEXT ·cpuid(SB), NOSPLIT, $0-24
	MOVL eaxArg+0(FP), AX
	MOVL ecxArg+4(FP), CX
	CPUID
	MOVL AX, eax+8(FP)
	MOVL BX, ebx+12(FP)
	MOVL CX, ecx+16(FP)
	MOVL DX, edx+20(FP)
	RET

// func xgetbv() (eax, edx uint32)
TEXT ·xgetbv(SB), NOSPLIT, $0-8
	MOVL $0, CX
	XGETBV
	MOVL AX, eax+0(FP)
	MOVL DX, edx+4(FP)
	RET
