/** jextract-generated bindings for headers/vhost4j.h; never edited by hand. */
package io.vhost4j.internal.gen;
