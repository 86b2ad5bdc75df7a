# embed.cmake - turn a text file into a C array (cmake -DIN=FILE -DOUT=FILE.c
# -DNAME=symbol -P embed.cmake): `const unsigned char NAME[]` (NUL-terminated) and
# `const unsigned long NAME_len` (without the NUL).
file(READ ${IN} hex HEX)
string(LENGTH "${hex}" n)
math(EXPR len "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
string(REGEX REPLACE "((0x..,){16})" "\\1\n" body "${body}")
file(WRITE ${OUT}.new "/* Generated from ${IN} by tools/embed.cmake; do not edit. */\n"
  "const unsigned char ${NAME}[] = {\n${body}0x00};\n"
  "const unsigned long ${NAME}_len = ${len};\n")
file(COPY_FILE ${OUT}.new ${OUT} ONLY_IF_DIFFERENT)
file(REMOVE ${OUT}.new)
